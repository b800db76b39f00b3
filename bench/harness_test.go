package bench

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/common/libimage"
	"go.podman.io/common/pkg/config"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The three contenders, as they appear in metric names.
const (
	eng = "engine"
	cpy = "copy"
	lib = "libimage"
)

// side is one contender's world: a fresh vfs store in a temp dir and the
// same kind of hermetic configuration (registries.conf trusting the
// registry, accept-anything policy.json, empty auth file) that
// enginetest.NewEngine writes. Every contender gets its own, so none
// reuses another's layers or blob-info cache.
type side struct {
	opts  engine.Options
	sys   *types.SystemContext
	store storage.Store // anchors only; the engine opens its own
	e     *engine.Engine
	rt    *libimage.Runtime
	pol   *signature.Policy
}

func newSide(b testing.TB, host string) *side {
	b.Helper()
	// vfs like the anchors, whatever the kit would pick: same driver, fair race.
	opts := enginetest.NewEngineOptions(b, enginetest.WithRegistryHost(host), enginetest.WithDriver("vfs"))
	sys := *opts.SystemContext
	sys.SystemRegistriesConfPath = opts.RegistriesConfPath
	sys.SystemRegistriesConfDirPath = opts.RegistriesConfPath + ".d"
	sys.SignaturePolicyPath = opts.SignaturePolicyPath
	sys.AuthFilePath = opts.AuthFilePath
	return &side{opts: opts, sys: &sys}
}

// newEngineSide opens an Engine over a fresh store.
func newEngineSide(b testing.TB, host string) *side {
	b.Helper()
	s := newSide(b, host)
	e, err := engine.New(s.opts)
	if err != nil {
		b.Fatalf("engine.New: %v", err)
	}
	s.e = e
	return s
}

// openStore opens a fresh vfs store for an anchor.
func (s *side) openStore(b testing.TB) {
	b.Helper()
	st, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot:       s.opts.RootDir,
		RunRoot:         s.opts.RunDir,
		GraphDriverName: "vfs",
	})
	if err != nil {
		b.Fatalf("opening store: %v", err)
	}
	s.store = st
}

// newCopySide prepares the floor: a bare copy.Image into a storage
// reference of a fresh store.
func newCopySide(b testing.TB, host string) *side {
	b.Helper()
	s := newSide(b, host)
	s.openStore(b)
	p, err := signature.DefaultPolicy(s.sys)
	if err != nil {
		b.Fatalf("policy: %v", err)
	}
	s.pol = p
	return s
}

// newLibimageSide prepares Podman's way: a libimage.Runtime over a fresh
// store.
func newLibimageSide(b testing.TB, host string) *side {
	b.Helper()
	loadContainersConf(b)
	s := newSide(b, host)
	s.openStore(b)
	rt, err := libimage.RuntimeFromStore(s.store, &libimage.RuntimeOptions{SystemContext: s.sys})
	if err != nil {
		b.Fatalf("libimage runtime: %v", err)
	}
	s.rt = rt
	return s
}

var containersConfOnce sync.Once

// loadContainersConf makes libimage read containers.conf (once per process,
// cached by config.Default) outside any timed region.
func loadContainersConf(b testing.TB) {
	containersConfOnce.Do(func() {
		if _, err := config.Default(); err != nil {
			b.Fatalf("containers.conf: %v", err)
		}
	})
}

// pull pulls name (fully qualified) with the side's contender under policy
// p. The floor has no policy: it always copies.
func (s *side) pull(ctx context.Context, name string, p policy.Policy) error {
	switch {
	case s.e != nil:
		res, err := s.e.Pull(ctx, name, p, nil)
		if err != nil {
			return err
		}
		if len(res.Images) == 0 {
			return fmt.Errorf("engine pulled no image for %s", name)
		}
		return nil
	case s.rt != nil:
		lp := map[policy.Policy]config.PullPolicy{
			policy.Missing: config.PullPolicyMissing,
			policy.Newer:   config.PullPolicyNewer,
			policy.Always:  config.PullPolicyAlways,
			policy.Never:   config.PullPolicyNever,
		}[p]
		imgs, err := s.rt.Pull(ctx, name, lp, &libimage.PullOptions{})
		if err != nil {
			return err
		}
		if len(imgs) == 0 {
			return fmt.Errorf("libimage pulled no image for %s", name)
		}
		return nil
	default:
		src, err := docker.ParseReference("//" + name)
		if err != nil {
			return err
		}
		dst, err := istorage.Transport.ParseStoreReference(s.store, name)
		if err != nil {
			return err
		}
		pc, err := signature.NewPolicyContext(s.pol)
		if err != nil {
			return err
		}
		defer func() { _ = pc.Destroy() }()
		_, err = copy.Image(ctx, pc, dst, src, &copy.Options{SourceCtx: s.sys, DestinationCtx: s.sys})
		return err
	}
}

// close shuts the store down and deletes it (layers are big; a benchmark
// makes many stores).
func (s *side) close(b testing.TB) {
	b.Helper()
	switch {
	case s.e != nil:
		if err := s.e.Close(); err != nil {
			b.Errorf("closing engine: %v", err)
		}
	case s.rt != nil:
		if err := s.rt.Shutdown(true); err != nil {
			b.Errorf("closing libimage runtime: %v", err)
		}
	case s.store != nil:
		if _, err := s.store.Shutdown(true); err != nil {
			b.Errorf("closing store: %v", err)
		}
	}
	for _, dir := range []string{s.opts.RootDir, s.opts.RunDir, s.sys.BlobInfoCacheDir} {
		_ = os.RemoveAll(dir)
	}
}

// newSideFor makes the side of contender who.
func newSideFor(b testing.TB, who, host string) *side {
	switch who {
	case eng:
		return newEngineSide(b, host)
	case cpy:
		return newCopySide(b, host)
	default:
		return newLibimageSide(b, host)
	}
}

// tally sums per-op figures and reports their means. Ratios are paired:
// the median over ops of one contender's figure over the other's in the
// same op, so a slow moment of the machine hits both sides of a ratio.
type tally struct {
	n      int
	sums   map[string]float64
	series map[string][]float64 // metric → per-op values, for ratios
	// noSync skips writing dirty pages back before each pull, for pulls
	// that write nothing.
	noSync bool
}

func (t *tally) add(metric string, v float64) {
	if t.sums == nil {
		t.sums = map[string]float64{}
	}
	t.sums[metric] += v
}

// addSeries adds v to metric and keeps it for paired ratios.
func (t *tally) addSeries(metric string, v float64) {
	t.add(metric, v)
	if t.series == nil {
		t.series = map[string][]float64{}
	}
	t.series[metric] = append(t.series[metric], v)
}

// measure runs contender who's pull and records its wall time (who-ms)
// and the CPU time the process and its children spent meanwhile
// (who-cpu-ms: steadier than wall time on a shared machine; the
// registry's share is the same for every contender). The benchmark's own
// timer (ns/op) runs for the engine only. Dirty pages of earlier pulls are
// written back first, untimed, so every pull starts from the same
// page-cache state.
func (t *tally) measure(b *testing.B, who string, pull func() error) {
	if !t.noSync {
		syscall.Sync()
	}
	if who == eng {
		b.StartTimer()
	}
	cpu := cpuTime()
	start := time.Now()
	err := pull()
	wall := time.Since(start)
	cpu = cpuTime() - cpu
	if who == eng {
		b.StopTimer()
	}
	if err != nil {
		b.Fatalf("%s: %v", who, err)
	}
	t.addSeries(who+"-ms", float64(wall)/float64(time.Millisecond))
	t.addSeries(who+"-cpu-ms", float64(cpu)/float64(time.Millisecond))
}

// cpuTime is the user and system time of this process and of its
// children that have ended (storage applies layers in children).
func cpuTime() time.Duration {
	var d time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			d += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return d
}

// requests adds what the registry served since the last reset, by kind.
func (t *tally) requests(who string, reg *enginetest.Registry) {
	q := reg.Requests
	t.add(who+"-req", float64(q.Total()))
	t.add(who+"-ping", float64(q.Count(enginetest.Ping)))
	t.add(who+"-mhead", float64(q.Count(enginetest.ManifestHead)))
	t.add(who+"-mget", float64(q.Count(enginetest.ManifestGet)))
	t.add(who+"-bhead", float64(q.Count(enginetest.BlobHead)))
	t.add(who+"-bget", float64(q.Count(enginetest.BlobGet)))
	t.add(who+"-blobMB", float64(q.BlobBytes())/(1<<20))
}

// report reports every mean as a per-op metric, and the paired ratios
// asked, of wall time ("engine/copy") and of CPU time ("engine/copy-cpu").
func (t *tally) report(b *testing.B, ratios ...string) {
	if t.n == 0 {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(t.sums)) {
		b.ReportMetric(t.sums[k]/float64(t.n), k+"/op")
	}
	if testing.Verbose() {
		for _, k := range slices.Sorted(maps.Keys(t.series)) {
			b.Logf("%s per op: %.0f", k, t.series[k])
		}
	}
	for _, r := range ratios {
		num, den, _ := strings.Cut(r, "/")
		for _, m := range []struct{ suffix, unit string }{{"-ms", ""}, {"-cpu-ms", "-cpu"}} {
			a, d := t.series[num+m.suffix], t.series[den+m.suffix]
			if len(a) == 0 || len(a) != len(d) {
				continue
			}
			b.ReportMetric(pairedRatio(a, d), r+m.unit)
		}
	}
}

// pairedRatio is the median of a[i]/d[i]; the ratio of the sums when some
// d[i] is 0 (CPU time of a sub-millisecond op can read 0).
func pairedRatio(a, d []float64) float64 {
	if slices.Contains(d, 0) {
		return sum(a) / sum(d)
	}
	paired := make([]float64, len(a))
	for i := range a {
		paired[i] = a[i] / d[i]
	}
	return median(paired)
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rotate returns the contenders in an order that changes every op, so none
// always runs first (page cache, GC debt).
func rotate(op int, who ...string) []string {
	out := make([]string, len(who))
	for i := range who {
		out[i] = who[(op+i)%len(who)]
	}
	return out
}

// imageBytes is what pulling img transfers: its config and layer blobs.
func imageBytes(b testing.TB, img v1.Image) int64 {
	b.Helper()
	m, err := img.Manifest()
	if err != nil {
		b.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// words is the vocabulary of compressible layers.
var words = strings.Fields(`the quick brown fox jumps over lazy dog container image layer
registry manifest digest blob storage pull policy platform engine runtime config
error retry timeout request response header body status ok info warn debug func
return package import struct interface string int64 bool nil true false`)

// textFiles is a compressible layer: n files of pseudo-random words
// (deterministic per seed), total bytes in all.
func textFiles(seed uint64, n int, total int) enginetest.Files {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	files := enginetest.Files{}
	per := total / n
	for i := range n {
		var sb strings.Builder
		sb.Grow(per + 16)
		for sb.Len() < per {
			sb.WriteString(words[r.IntN(len(words))])
			if r.IntN(12) == 0 {
				sb.WriteByte('\n')
			} else {
				sb.WriteByte(' ')
			}
		}
		files[fmt.Sprintf("data/%04d.txt", i)] = sb.String()[:per]
	}
	return files
}
