package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// coldImage is the 5-layer image of the cold and concurrent benchmarks:
// 50 MiB of files, incompressible (random) and compressible (text) layers
// mixed, gzip as go-containerregistry writes it.
func coldImage(b testing.TB) v1.Image {
	return enginetest.NewImage(b,
		enginetest.WithRandomLayer(b, 16<<20),
		enginetest.WithLayer(b, textFiles(1, 1, 10<<20)), // one 10 MiB log-like file
		enginetest.WithRandomLayer(b, 12<<20),
		enginetest.WithLayer(b, textFiles(2, 512, 4<<20)), // 512 small files
		enginetest.WithRandomLayer(b, 8<<20),
	)
}

// BenchmarkCold: a cold pull of the 5-layer image into a fresh vfs store:
// engine vs bare copy.Image vs libimage (policy missing).
func BenchmarkCold(b *testing.B) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(b)
	img := coldImage(b)
	reg.PushImage(b, "bench/cold:v1", img)
	name := reg.Host + "/bench/cold:v1"
	size := imageBytes(b, img)

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, cpy, lib) {
			s := newSideFor(b, who, reg.Host)
			reg.Requests.Reset()
			t.measure(b, who, func() error { return s.pull(ctx, name, policy.Missing) })
			t.requests(who, reg)
			s.close(b)
		}
		t.n++
		b.StartTimer()
	}
	b.SetBytes(size)
	t.report(b, "engine/copy", "engine/libimage")
}

// warmSides pulls name once into a fresh engine store and a fresh libimage
// store, and warms both up, for the benchmarks of a present image.
func warmSides(b *testing.B, reg *enginetest.Registry, name string) (e, l *side) {
	ctx := context.Background()
	e, l = newEngineSide(b, reg.Host), newLibimageSide(b, reg.Host)
	b.Cleanup(func() { e.close(b); l.close(b) })
	for _, s := range []*side{e, l} {
		for _, p := range []policy.Policy{policy.Missing, policy.Newer} {
			if err := s.pull(ctx, name, p); err != nil {
				b.Fatal(err)
			}
		}
	}
	return e, l
}

// presentBenchmark times policy p for an image already in the store:
// engine vs libimage, with the registry requests of each.
func presentBenchmark(b *testing.B, p policy.Policy) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(b)
	reg.PushImage(b, "bench/present:v1", enginetest.NewImage(b,
		enginetest.WithRandomLayer(b, 1<<20), enginetest.WithLayer(b, textFiles(3, 16, 1<<20))))
	name := reg.Host + "/bench/present:v1"
	e, l := warmSides(b, reg, name)

	t := tally{noSync: true} // nothing is written
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, lib) {
			s := map[string]*side{eng: e, lib: l}[who]
			reg.Requests.Reset()
			t.measure(b, who, func() error { return s.pull(ctx, name, p) })
			t.requests(who, reg)
		}
		t.n++
		b.StartTimer()
	}
	t.report(b, "engine/libimage")
}

// BenchmarkMissingPresent: policy missing with the image in the store.
func BenchmarkMissingPresent(b *testing.B) { presentBenchmark(b, policy.Missing) }

// BenchmarkNewerUpToDate: policy newer when the registry has the same
// image.
func BenchmarkNewerUpToDate(b *testing.B) { presentBenchmark(b, policy.Newer) }

// BenchmarkConcurrentSame: 16 concurrent pulls of the 5-layer image in one
// Engine vs 16 goroutines on one libimage Runtime, each into a fresh
// store: wall time and blob bytes the registry served, in images.
func BenchmarkConcurrentSame(b *testing.B) {
	const pullers = 16
	ctx := context.Background()
	reg := enginetest.NewRegistry(b)
	img := coldImage(b)
	reg.PushImage(b, "bench/same:v1", img)
	name := reg.Host + "/bench/same:v1"
	size := float64(imageBytes(b, img))

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, lib) {
			s := newSideFor(b, who, reg.Host)
			reg.Requests.Reset()
			t.measure(b, who, func() error {
				return all(pullers, func(int) error { return s.pull(ctx, name, policy.Missing) })
			})
			t.requests(who, reg)
			t.add(who+"-xImage", float64(reg.Requests.BlobBytes())/size)
			s.close(b)
		}
		t.n++
		b.StartTimer()
	}
	t.report(b, "engine/libimage")
}

// BenchmarkConcurrentDifferent: 8 different images (two layers, 6 MiB of
// files each) pulled one after another vs all at once, by the engine; and
// all at once by libimage as the anchor.
func BenchmarkConcurrentDifferent(b *testing.B) {
	const images = 8
	ctx := context.Background()
	reg := enginetest.NewRegistry(b)
	names := make([]string, images)
	for i := range names {
		reg.PushImage(b, fmt.Sprintf("bench/diff%d:v1", i), enginetest.NewImage(b,
			enginetest.WithRandomLayer(b, 4<<20), enginetest.WithLayer(b, textFiles(uint64(10+i), 64, 2<<20))))
		names[i] = fmt.Sprintf("%s/bench/diff%d:v1", reg.Host, i)
	}

	const seq = "sequential" // the engine, one image after another

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, seq, eng, lib) {
			kind := who
			if who == seq {
				kind = eng
			}
			s := newSideFor(b, kind, reg.Host)
			pull := func(i int) error { return s.pull(ctx, names[i], policy.Missing) }
			t.measure(b, who, func() error {
				if who != seq {
					return all(images, pull)
				}
				for i := range names {
					if err := pull(i); err != nil {
						return err
					}
				}
				return nil
			})
			s.close(b)
		}
		t.n++
		b.StartTimer()
	}
	t.report(b, "engine/sequential", "engine/libimage")
}

// all runs f(0..n-1) at once (released together) and returns the first
// error.
func all(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	time.Sleep(time.Millisecond) // let every goroutine reach the gate
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkColdLarge: a cold pull of a 1 GiB image (4 layers, generated
// while served) into a fresh vfs store, engine vs copy.Image vs libimage,
// paired as in BenchmarkCold: the memory benchmarks time each contender
// once, in separate processes, which is too noisy to compare their times.
// put and put-verify (streamPut) stream the layers straight into vfs
// layers, what a fast path for drivers other than overlay could do.
func BenchmarkColdLarge(b *testing.B) {
	ctx := context.Background()
	img, err := newGenImage(1<<30, 4)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(img.handler())
	b.Cleanup(srv.Close)
	host := srv.Listener.Addr().String()
	name := host + "/bench/big:v1"
	puts := map[string]*streamPut{put: img.streamPut(host, "bench/big", false), putVerify: img.streamPut(host, "bench/big", true)}

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, cpy, lib, put, putVerify) {
			if sp := puts[who]; sp != nil {
				s := newCopySide(b, host) // a fresh vfs store
				t.measure(b, who, func() error { return sp.pull(ctx, s.store) })
				s.close(b)
				continue
			}
			s := newSideFor(b, who, host)
			t.measure(b, who, func() error { return s.pull(ctx, name, policy.Missing) })
			s.close(b)
		}
		t.n++
		b.StartTimer()
	}
	b.SetBytes(img.size())
	t.report(b, "engine/copy", "engine/libimage", "put/copy", "put-verify/copy")
}
