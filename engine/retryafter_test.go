package engine_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// A registry's Retry-After reaches the error: a 429 on the tag list (read
// by the engine's own client) carries the delay, and one over a minute is
// not waited for, so the tag list is asked once.
func TestRetryAfterFromRegistry(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.Intercept(enginetest.Kind(enginetest.TagsList), -1,
		func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
			w.Header().Set("Retry-After", "120")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`))
		}))
	reg.Push(t, "limited/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))

	_, err := e.Pull(context.Background(), reg.Host+"/limited/app", policy.Always, &engine.PullOptions{AllTags: true})
	if k := pullerrors.Classify(err); k != pullerrors.RateLimited {
		t.Fatalf("kind %s, want rate-limited: %v", k, err)
	}
	if after, ok := pullerrors.RetryAfter(err); !ok || after != 120*time.Second {
		t.Errorf("RetryAfter = %s, %t; want 2m0s from the registry's header", after, ok)
	}
	if n := reg.Requests.Count(enginetest.TagsList); n != 1 {
		t.Errorf("%d tag-list requests, want 1 (a Retry-After over a minute is not waited for)", n)
	}
}
