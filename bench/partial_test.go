package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/types"
)

// Partial pulls (zstd:chunked) against a default pull, on overlay.
//
// v1 of a zstd:chunked image is local; v2 changes 2 % of its files. Each
// iteration pulls v1 at full speed into a fresh overlay store, then v2
// through a link throttled in the kit, once with partial pulls on and once
// off (a default Podman pull: whole changed layers). It reports the bytes
// the registry served for v2 as a percentage of v2's blobs, and the wall
// time of each v2 pull. Pushing zstd:chunked is slow (containers/storage
// chunks every file byte by byte, about 1 s per MB on this machine), so
// the image is built once per run and kept modest by default:
//
//	BENCH_PARTIAL_MB    unpacked size of the image in MiB (default 24; the
//	                    issue's scenario is ~300)
//	BENCH_PARTIAL_RATE  the link, in MiB/s (default 10)

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// partialImage pushes v1 and v2 as zstd:chunked: four layers of 64 KiB
// files, totalling mib MiB unpacked; v2 changes 2 % of every layer's files.
func partialImage(b *testing.B, reg *enginetest.Registry, mib int) {
	b.Helper()
	const layers, fileSize = 4, 64 << 10
	perLayer := max(1, mib<<20/fileSize/layers)
	var v1, v2 []enginetest.ImageOption
	for i := range layers {
		f1 := enginetest.RandomFiles(fmt.Sprintf("l%d-", i), uint64(i), perLayer, fileSize)
		f2, _ := enginetest.ChangeFiles(f1, 0.02, uint64(100+i))
		v1 = append(v1, enginetest.WithLayer(b, f1))
		v2 = append(v2, enginetest.WithLayer(b, f2))
	}
	reg.PushZstdChunked(b, "bench/partial:v1", enginetest.NewImage(b, append(v1, enginetest.OCI())...))
	reg.PushZstdChunked(b, "bench/partial:v2", enginetest.NewImage(b, append(v2, enginetest.OCI())...))
}

func BenchmarkPartialPull(b *testing.B) {
	mib, rate := envInt("BENCH_PARTIAL_MB", 24), int64(envInt("BENCH_PARTIAL_RATE", 10))<<20
	link := enginetest.NewLink(0)
	reg := enginetest.NewRegistry(b, enginetest.WithLink(link))
	start := time.Now()
	partialImage(b, reg, mib)
	blobs := enginetest.BlobsSize(reg.Blobs(b, "bench/partial:v2"))
	b.Logf("%d MiB image pushed as zstd:chunked in %v; v2's blobs: %d bytes; link %d MiB/s",
		mib, time.Since(start).Round(time.Millisecond), blobs, rate>>20)

	var wall [2]time.Duration
	var bytes [2]int64
	n := 0
	for b.Loop() { // b.Loop: the costly setup above runs once
		n++
		for i, on := range []types.OptionalBool{types.OptionalBoolTrue, types.OptionalBoolFalse} {
			b.StopTimer()
			e := enginetest.NewEngine(b, enginetest.WithRegistry(reg), enginetest.WithDriver("overlay"),
				enginetest.WithEngineOptions(func(o *engine.Options) { o.PartialPulls = on }))
			link.SetRate(0)
			pullOrFatal(b, e, reg.Host+"/bench/partial:v1")
			link.SetRate(rate)
			reg.Requests.Reset()
			b.StartTimer()
			t0 := time.Now()
			pullOrFatal(b, e, reg.Host+"/bench/partial:v2")
			wall[i] += time.Since(t0)
			b.StopTimer()
			bytes[i] += reg.Requests.BlobBytes()
			b.StartTimer() // b.Loop refuses to run with the timer stopped
		}
	}
	iters := float64(n)
	b.ReportMetric(float64(wall[0].Milliseconds())/iters, "partial-ms/op")
	b.ReportMetric(float64(wall[1].Milliseconds())/iters, "full-ms/op")
	b.ReportMetric(float64(wall[0])/float64(wall[1]), "partial/full-time")
	b.ReportMetric(100*float64(bytes[0])/iters/float64(blobs), "partial-served-%")
	b.ReportMetric(100*float64(bytes[1])/iters/float64(blobs), "full-served-%")
}

func pullOrFatal(b *testing.B, e *engine.Engine, ref string) {
	b.Helper()
	if _, err := e.Pull(context.Background(), ref, policy.Missing, nil); err != nil {
		b.Fatalf("pulling %s: %v", ref, err)
	}
}
