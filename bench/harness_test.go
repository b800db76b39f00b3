package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
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
	opts := enginetest.NewEngineOptions(b, enginetest.WithRegistryHost(host))
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

// tally sums per-op figures and reports their means. Ratios of times are
// paired: the median over ops of one contender's time over the other's in
// the same op, so a slow moment of the machine hits both sides of a ratio.
type tally struct {
	n     int
	sums  map[string]float64
	times map[string][]float64 // who → per-op ms
}

func (t *tally) add(metric string, v float64) {
	if t.sums == nil {
		t.sums = map[string]float64{}
	}
	t.sums[metric] += v
}

// time runs f and adds its duration to who-ms. Dirty pages of earlier ops
// are written back first (untimed), so every pull starts from the same
// page-cache state.
func (t *tally) time(who string, f func()) {
	syscall.Sync()
	start := time.Now()
	f()
	ms := float64(time.Since(start)) / float64(time.Millisecond)
	t.add(who+"-ms", ms)
	if t.times == nil {
		t.times = map[string][]float64{}
	}
	t.times[who] = append(t.times[who], ms)
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
// asked ("engine/copy": engine's time over copy's).
func (t *tally) report(b *testing.B, ratios ...string) {
	if t.n == 0 {
		return
	}
	keys := make([]string, 0, len(t.sums))
	for k := range t.sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.ReportMetric(t.sums[k]/float64(t.n), k+"/op")
	}
	if testing.Verbose() {
		whos := make([]string, 0, len(t.times))
		for who := range t.times {
			whos = append(whos, who)
		}
		sort.Strings(whos)
		for _, who := range whos {
			b.Logf("%s ms per op: %.0f", who, t.times[who])
		}
	}
	for _, r := range ratios {
		num, den, _ := strings.Cut(r, "/")
		a, d := t.times[num], t.times[den]
		if len(a) == 0 || len(a) != len(d) {
			continue
		}
		paired := make([]float64, len(a))
		for i := range a {
			paired[i] = a[i] / d[i]
		}
		b.ReportMetric(median(paired), r)
	}
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
