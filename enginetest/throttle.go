package enginetest

import (
	"net/http"
	"sync"
	"time"
)

// Throttle makes the registry answer through a link of bytesPerSecond:
// response bodies of all requests together are paced to that rate, as
// parallel layer downloads share one real link. It is for measuring what
// fetching fewer bytes saves (partial pulls, benchmarks); tests must not
// assert on the times it produces.
func Throttle(bytesPerSecond int64) RegistryOption {
	return WithLink(NewLink(bytesPerSecond))
}

// WithLink makes the registry answer through l, whose rate the test may
// change while it runs (e.g. full speed to set up, throttled to measure).
func WithLink(l *Link) RegistryOption {
	return WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(&throttledWriter{ResponseWriter: w, link: l, r: r}, r)
		})
	})
}

// Link paces the response bodies of a registry (see WithLink) to a rate:
// each write reserves its share of time after the previous reservation and
// waits until it ends.
type Link struct {
	mu   sync.Mutex
	rate int64
	free time.Time // when the link has sent everything reserved so far
}

// NewLink returns a link of bytesPerSecond; zero or less is unlimited.
func NewLink(bytesPerSecond int64) *Link { return &Link{rate: bytesPerSecond} }

// SetRate changes the link's rate from now on; zero or less is unlimited.
func (l *Link) SetRate(bytesPerSecond int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.free = bytesPerSecond, time.Time{}
}

// reserve books n bytes and returns when they have gone through.
func (l *Link) reserve(n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.rate <= 0 {
		return now
	}
	if l.free.Before(now) {
		l.free = now
	}
	l.free = l.free.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	return l.free
}

// throttleSlice is how much a throttled writer sends at once: small enough
// to interleave parallel downloads, large enough to keep the overhead low.
const throttleSlice = 16 << 10

type throttledWriter struct {
	http.ResponseWriter
	link *Link
	r    *http.Request
}

// Write sends p in slices, each after its time on the link; it stops when
// the client has gone.
func (t *throttledWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), throttleSlice)
		timer := time.NewTimer(time.Until(t.link.reserve(n)))
		select {
		case <-timer.C:
		case <-t.r.Context().Done():
			timer.Stop()
			return written, t.r.Context().Err()
		}
		m, err := t.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Flush passes flushes through.
func (t *throttledWriter) Flush() { _ = http.NewResponseController(t.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *throttledWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
