package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/policy"
)

// A registry that never lets a blob make progress (one byte per
// connection, every answer ended early, the blob cut one byte before its
// end, a 200 that ignores the range and is then cut) ends the pull with a
// classified error after a bounded number of GETs of the layer per
// attempt, long before the caller's deadline; nothing is stored.
func TestResumeReconnectNeedsProgress(t *testing.T) {
	const perAttempt = 10 // the bound asked; the reader needs 6
	for _, tc := range []struct {
		name   string
		faults func(enginetest.RequestMatcher) []enginetest.RegistryOption
	}{
		{"one byte per connection", func(m enginetest.RequestMatcher) []enginetest.RegistryOption {
			return []enginetest.RegistryOption{registryfaults.CutAt(m, -1, 1)}
		}},
		{"every answer ends early", func(m enginetest.RequestMatcher) []enginetest.RegistryOption {
			return []enginetest.RegistryOption{registryfaults.CutAt(m, -1, 100<<10)}
		}},
		{"cut at size-1", func(m enginetest.RequestMatcher) []enginetest.RegistryOption {
			return []enginetest.RegistryOption{registryfaults.CutBeforeEnd(m, -1, 1)}
		}},
		{"200 ignoring the range, cut at size-1", func(m enginetest.RequestMatcher) []enginetest.RegistryOption {
			return []enginetest.RegistryOption{registryfaults.CutBeforeEnd(m, -1, 1), registryfaults.IgnoreRange(m, -1)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ri := newResumeImage(t, 2<<20)
			reg := enginetest.NewRegistry(t, tc.faults(enginetest.Blob(ri.layer))...)
			reg.PushImage(t, "team/slow:v1", ri.img)
			opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
			e := newEngine(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for attempts := 1; attempts <= 2; attempts++ {
				reg.Requests.Reset()
				_, err := e.Pull(ctx, reg.Host+"/team/slow:v1", policy.Always,
					&engine.PullOptions{MaxRetries: ptr(attempts - 1), RetryDelay: time.Millisecond})
				if k := pullerrors.Classify(err); k != pullerrors.Unavailable {
					t.Fatalf("%d attempts: kind %v, want Unavailable: %v", attempts, k, err)
				}
				if n := blobGets(reg, ri.layer); n > perAttempt*attempts {
					t.Errorf("%d attempts: %d GETs of the layer, want at most %d", attempts, n, perAttempt*attempts)
				}
			}
			if ctx.Err() != nil {
				t.Error("the caller's deadline ended the pulls")
			}
			if layers, _ := e.Store().Layers(); len(layers) != 0 {
				t.Errorf("layers stored: %d", len(layers))
			}
			assertNothingLeft(t, e)
			if p := partials(t, opts); len(p) > 1 {
				t.Errorf("partials kept: %v, want at most the layer's", p)
			}
		})
	}
}
