package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// BenchmarkResume measures what an interrupted pull costs to finish, with
// one incompressible layer of BENCH_RESUME_MIB MiB (default 512), served
// from a file with real Range support (http.ServeContent: 206 and
// Content-Range for "bytes=N-M"). Ratios, not times:
//
//   - cut90: the layer's connection is cut at 90% and the registry then
//     fails until the pull gave up; the same store pulls again. refetch is
//     the layer bytes served by the second pull over the layer's size
//     (engine: the rest; copy.Image starts from zero). first-new-byte-ms is
//     the time from the second Pull call to the arrival of the request for
//     the rest; cut10 gives the same figure with a partial 9x smaller:
//     it must not grow with the partial.
//   - stall50: the registry stops sending at 50% (the connection stays
//     open); the engine's watchdog is 1 s. recovery-s is the time from the
//     stall to the request for the rest, less the watchdog; twice is the
//     layer bytes served twice over the layer's size.
//   - norange: cut at 50%, and the registry ignores Range (200); the pull
//     succeeds and discarded is the prefix fetched again over the size.
//
// A SIGKILL at 90% costs what cut90 does plus at most the interval
// between two saves of the partial's state (1 MiB): engine/resume_test.go
// TestResumeAfterKill proves it with a child process.
func BenchmarkResume(b *testing.B) {
	mib := int64(512)
	if v, err := strconv.ParseInt(os.Getenv("BENCH_RESUME_MIB"), 10, 64); err == nil && v > 0 {
		mib = v
	}
	srv := newRangeServer(b, mib<<20)
	b.Run("cut90", func(b *testing.B) { srv.cutCase(b, 0.9) })
	b.Run("cut10", func(b *testing.B) { srv.cutCase(b, 0.1) })
	b.Run("stall50", func(b *testing.B) { srv.stallCase(b) })
	b.Run("norange", func(b *testing.B) { srv.noRangeCase(b) })
}

// rangeServer serves a genImage's one layer from a file, with faults.
type rangeServer struct {
	img   *genImage
	layer digest.Digest
	size  int64
	file  *os.File
	host  string

	mu       sync.Mutex
	mode     string // "", "cut", "stall", "norange"
	at       int64  // where the fault strikes
	faulted  bool   // the fault struck
	failing  bool   // answer 503 to the layer (mode cut, after the cut)
	served   int64  // layer bytes served
	rangeAt  time.Time
	stallAt  time.Time
	requests int
}

func newRangeServer(b *testing.B, size int64) *rangeServer {
	img, err := newGenImage(size, 1)
	if err != nil {
		b.Fatal(err)
	}
	l := img.layers[0]
	f, err := os.Create(filepath.Join(b.TempDir(), "layer"))
	if err != nil {
		b.Fatal(err)
	}
	if err := l.write(f, nil); err != nil {
		b.Fatal(err)
	}
	s := &rangeServer{img: img, layer: l.digest, size: l.size, file: f}
	h := httptest.NewServer(s.handler(img.handler()))
	b.Cleanup(h.Close)
	s.host = h.Listener.Addr().String()
	return s
}

func (s *rangeServer) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+s.layer.String()) || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		s.requests++
		mode, at, faulted, failing := s.mode, s.at, s.faulted, s.failing
		if r.Header.Get("Range") != "" && s.rangeAt.IsZero() {
			s.rangeAt = time.Now()
		}
		if !faulted && mode != "" {
			s.faulted = true
		}
		if mode == "norange" {
			r.Header.Del("Range")
		}
		s.mu.Unlock()
		w.Header().Set("Docker-Content-Digest", s.layer.String())
		switch {
		case failing:
			w.WriteHeader(http.StatusServiceUnavailable)
		case !faulted && (mode == "cut" || mode == "norange"):
			s.serveUntil(w, r, at, func() {
				if mode == "cut" {
					s.mu.Lock()
					s.failing = true
					s.mu.Unlock()
				}
			})
		case !faulted && mode == "stall":
			s.serveUntil(w, r, at, func() {
				s.mu.Lock()
				s.stallAt = time.Now()
				s.mu.Unlock()
				<-r.Context().Done()
			})
		default:
			cw := &countWriter{w: w}
			// A reader of its own: requests overlap (a dropped one may still be
			// writing), and ServeContent seeks.
			http.ServeContent(cw2rw{rw: w, cw: cw}, r, "", time.Time{}, io.NewSectionReader(s.file, 0, s.size))
			s.addServed(cw.n)
		}
	})
}

// serveUntil sends the whole layer's headers and its first n bytes, then
// runs then and closes the connection.
func (s *rangeServer) serveUntil(w http.ResponseWriter, r *http.Request, n int64, then func()) {
	w.Header().Set("Content-Length", strconv.FormatInt(s.size, 10))
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 1<<20)
	var sent int64
	for sent < n {
		k, err := s.file.ReadAt(buf[:min(int64(len(buf)), n-sent)], sent)
		if k > 0 {
			k, _ = w.Write(buf[:k])
			sent += int64(k)
		}
		if err != nil || k == 0 {
			break
		}
	}
	s.addServed(sent)
	_ = http.NewResponseController(w).Flush()
	then()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func (s *rangeServer) addServed(n int64) {
	s.mu.Lock()
	s.served += n
	s.mu.Unlock()
}

// arm sets the fault of the next pull and resets the counters.
func (s *rangeServer) arm(mode string, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.at, s.faulted, s.failing = mode, at, false, false
	s.served, s.requests, s.rangeAt, s.stallAt = 0, 0, time.Time{}, time.Time{}
}

// disarm lets the next requests through and resets the counters.
func (s *rangeServer) disarm() { s.arm("", 0) }

func (s *rangeServer) snapshot() (served int64, rangeAt, stallAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.rangeAt, s.stallAt
}

// cw2rw counts what ServeContent writes (no ReadFrom: every byte goes
// through Write).
type cw2rw struct {
	rw http.ResponseWriter
	cw *countWriter
}

func (c cw2rw) Header() http.Header         { return c.rw.Header() }
func (c cw2rw) WriteHeader(code int)        { c.rw.WriteHeader(code) }
func (c cw2rw) Write(p []byte) (int, error) { return c.cw.Write(p) }

// engineFor opens an engine over a fresh store with resume options.
func (s *rangeServer) engineFor(b *testing.B, ro engine.ResumeOptions) *engine.Engine {
	opts := enginetest.NewEngineOptions(b, enginetest.WithRegistryHost(s.host), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Resume = ro
	}))
	e, err := engine.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = e.Close()
		_ = os.RemoveAll(opts.RootDir)
	})
	return e
}

func (s *rangeServer) name() string { return s.host + "/bench/big:v1" }

func (s *rangeServer) cutCase(b *testing.B, frac float64) {
	ctx := context.Background()
	at := int64(float64(s.size) * frac)
	for b.Loop() {
		b.StopTimer()
		// engine
		e := s.engineFor(b, engine.ResumeOptions{})
		s.arm("cut", at)
		zero := 0
		if _, err := e.Pull(ctx, s.name(), policy.Always, &engine.PullOptions{MaxRetries: &zero}); err == nil {
			b.Fatal("the cut pull succeeded")
		}
		s.disarm()
		start := time.Now()
		res, err := e.Pull(ctx, s.name(), policy.Always, nil)
		if err != nil {
			b.Fatal(err)
		}
		served, rangeAt, _ := s.snapshot()
		b.ReportMetric(float64(served)/float64(s.size), "engine-refetch/layer")
		b.ReportMetric(float64(res.Transfer.BytesResumed)/float64(s.size), "engine-resumed/layer")
		if !rangeAt.IsZero() {
			b.ReportMetric(float64(rangeAt.Sub(start).Microseconds())/1000, "engine-first-new-byte-ms")
		}
		// copy.Image, the peers' behaviour: the second attempt starts over
		c := newCopySide(b, s.host)
		s.arm("cut", at)
		if err := c.pull(ctx, s.name(), policy.Always); err == nil {
			b.Fatal("the cut copy succeeded")
		}
		s.disarm()
		if err := c.pull(ctx, s.name(), policy.Always); err != nil {
			b.Fatal(err)
		}
		served, _, _ = s.snapshot()
		b.ReportMetric(float64(served)/float64(s.size), "copy-refetch/layer")
		c.close(b)
		b.StartTimer()
	}
}

func (s *rangeServer) stallCase(b *testing.B) {
	ctx := context.Background()
	const watchdog = time.Second
	for b.Loop() {
		b.StopTimer()
		e := s.engineFor(b, engine.ResumeOptions{StallTimeout: watchdog})
		s.arm("stall", s.size/2)
		res, err := e.Pull(ctx, s.name(), policy.Always, nil)
		if err != nil {
			b.Fatal(err)
		}
		served, rangeAt, stallAt := s.snapshot()
		if rangeAt.IsZero() || stallAt.IsZero() {
			b.Fatalf("no stall or no resume (reconnects %d)", res.Transfer.Reconnects)
		}
		b.ReportMetric((rangeAt.Sub(stallAt) - watchdog).Seconds(), "recovery-s")
		b.ReportMetric(float64(served-s.size)/float64(s.size), "twice/layer")
		b.StartTimer()
	}
}

func (s *rangeServer) noRangeCase(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		e := s.engineFor(b, engine.ResumeOptions{})
		s.arm("norange", s.size/2)
		res, err := e.Pull(ctx, s.name(), policy.Always, nil)
		if err != nil {
			b.Fatal(fmt.Errorf("the pull from a registry ignoring Range failed: %w", err))
		}
		if res.Transfer.BytesDiscarded == 0 {
			b.Fatal("no waste reported")
		}
		b.ReportMetric(float64(res.Transfer.BytesDiscarded)/float64(s.size), "discarded/layer")
		b.StartTimer()
	}
}
