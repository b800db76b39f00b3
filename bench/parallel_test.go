package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// latency delays the first byte of every blob response by rtt, as a
// registry across a network does; on loopback, parallel downloads have
// nothing to overlap.
func latency(rtt time.Duration) enginetest.RegistryOption {
	return enginetest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if enginetest.KindOf(r) == enginetest.BlobGet {
				time.Sleep(rtt) // the benchmark's simulated network, not an assertion
			}
			next.ServeHTTP(w, r)
		})
	})
}

// BenchmarkParallelDownloads: a cold pull of the 5-layer image from a
// registry 50 ms away, with MaxParallelDownloads 1, 2, 3 and 6 (0 is
// containers/image's default, 6).
func BenchmarkParallelDownloads(b *testing.B) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(b, latency(50*time.Millisecond))
	reg.PushImage(b, "bench/cold:v1", coldImage(b))
	name := reg.Host + "/bench/cold:v1"
	for _, n := range []uint{1, 2, 3, 6} {
		b.Run(fmt.Sprintf("max=%d", n), func(b *testing.B) {
			var t tally
			for b.Loop() {
				b.StopTimer()
				s := newSide(b, reg.Host)
				s.opts.MaxParallelDownloads = n
				e, err := engine.New(s.opts)
				if err != nil {
					b.Fatal(err)
				}
				s.e = e
				t.measure(b, eng, func() error { return s.pull(ctx, name, policy.Missing) })
				s.close(b)
				t.n++
				b.StartTimer()
			}
			t.report(b)
		})
	}
}
