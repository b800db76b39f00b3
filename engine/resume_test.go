package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// resumeImage is a one-layer image with an incompressible layer of about
// size bytes, and its layer's and config's digests and sizes.
type resumeImage struct {
	img                   v1.Image
	layer, config         digest.Digest
	layerSize, configSize int64
}

func newResumeImage(t *testing.T, size int64) resumeImage {
	t.Helper()
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, size))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ld, _ := layers[0].Digest()
	ls, _ := layers[0].Size()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return resumeImage{img: img, layer: digest.Digest(ld.String()), layerSize: ls,
		config: digest.Digest(m.Config.Digest.String()), configSize: m.Config.Size}
}

// armed is a matcher a test switches on and off.
type armed struct{ on atomic.Bool }

func (a *armed) blob(d digest.Digest) enginetest.RequestMatcher {
	return enginetest.And(func(*http.Request) bool { return a.on.Load() }, enginetest.Blob(d))
}

// blobGets counts the GETs of blob d in the registry's log.
func blobGets(reg *enginetest.Registry, d digest.Digest) int {
	n := 0
	for _, l := range reg.Requests.Log() {
		if strings.HasPrefix(l, "GET ") && strings.HasSuffix(l, "/blobs/"+d.String()) {
			n++
		}
	}
	return n
}

// partials lists the partial blobs kept under the store of opts.
func partials(t *testing.T, opts engine.Options) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(opts.RootDir, "resume", "*.data"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A pull whose layer breaks off at 3 MiB (and whose registry then fails)
// keeps the 3 MiB; the next pull asks only for the rest.
func TestResumeAfterCut(t *testing.T) {
	ri := newResumeImage(t, 6<<20)
	var a armed
	const cut = 3 << 20
	// The first GET is cut; the registry then fails every GET of the
	// layer until disarmed (FailWith sits in front of CutAt).
	var wasCut atomic.Bool
	reg := enginetest.NewRegistry(t,
		enginetest.FailWith(enginetest.And(a.blob(ri.layer), func(*http.Request) bool { return wasCut.Load() }), -1, 503, "UNAVAILABLE", "down for a while"),
		registryfaults.CutAt(enginetest.And(a.blob(ri.layer), func(*http.Request) bool { wasCut.Store(true); return true }), 1, cut))
	reg.PushImage(t, "team/big:v1", ri.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	e := newEngine(t, opts)
	ctx := context.Background()
	name := reg.Host + "/team/big:v1"

	a.on.Store(true)
	if _, err := e.Pull(ctx, name, policy.Always, &engine.PullOptions{MaxRetries: ptr(0)}); err == nil {
		t.Fatal("the pull with a broken layer succeeded")
	}
	if len(partials(t, opts)) != 1 {
		t.Fatalf("partials after the failed pull: %v", partials(t, opts))
	}

	a.on.Store(false)
	reg.Requests.Reset()
	var events []progress.Event
	var mu sync.Mutex
	res, err := e.Pull(ctx, name, policy.Always, &engine.PullOptions{Progress: progress.SinkFunc(func(ev progress.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID != enginetest.ID(t, ri.img) {
		t.Errorf("pulled %s, want %s", res.Images[0].ID, enginetest.ID(t, ri.img))
	}
	if res.Transfer.BytesResumed != cut {
		t.Errorf("BytesResumed = %d, want %d", res.Transfer.BytesResumed, cut)
	}
	wantServed := ri.layerSize - cut + ri.configSize
	if got := reg.Requests.BlobBytes(); got != wantServed {
		t.Errorf("the registry served %d blob bytes, want %d (the rest of the layer and the config)", got, wantServed)
	}
	if res.Transfer.BytesFetched != wantServed {
		t.Errorf("BytesFetched = %d, want %d", res.Transfer.BytesFetched, wantServed)
	}
	resumed := false
	for _, ev := range events {
		if ev.Kind == progress.BlobResumed && ev.Digest == ri.layer && ev.Current == cut {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("no BlobResumed event at %d for the layer", cut)
	}
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("partials left after success: %v", p)
	}
}

// A pull SIGKILLed in the middle of a layer leaves its bytes; the next
// process fetches only the rest.
func TestResumeAfterKill(t *testing.T) {
	h := &halfBlob{reached: make(chan struct{}), release: make(chan struct{})}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(h.middleware))
	ri := newResumeImage(t, 6<<20)
	reg.PushImage(t, "team/victim:v1", ri.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	name := reg.Host + "/team/victim:v1"
	h.armed.Store(true)

	cmd, exited := startPuller(t, opts, name)
	// Wait (no time limit but the test's) until the child wrote all the
	// registry sent, half the layer: a SIGKILL must lose none of it.
	half := ri.layerSize / 2
	saved := waitForKeptBytes(t, opts, ri.layer, half, exited)
	h.killChild(t, cmd, exited)

	reg.Requests.Reset()
	e := newEngine(t, opts)
	res, err := e.Pull(context.Background(), name, policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID != enginetest.ID(t, ri.img) {
		t.Errorf("pulled %s", res.Images[0].ID)
	}
	if saved != half || res.Transfer.BytesResumed != half {
		t.Errorf("BytesResumed = %d, the child had written %d, want the %d bytes the registry sent", res.Transfer.BytesResumed, saved, half)
	}
	if got, want := reg.Requests.BlobBytes(), ri.layerSize-res.Transfer.BytesResumed+ri.configSize; got != want {
		t.Errorf("the registry served %d blob bytes after the kill, want %d", got, want)
	}
}

// waitForKeptBytes polls the partial's data file until it holds at least
// min bytes, and returns its size: what a restart keeps of a first
// download (every byte written; see internal/blobresume).
func waitForKeptBytes(t *testing.T, opts engine.Options, d digest.Digest, min int64, exited chan error) int64 {
	t.Helper()
	path := filepath.Join(opts.RootDir, "resume", d.Encoded()+".data")
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() >= min {
			return fi.Size()
		}
		select {
		case err := <-exited:
			t.Fatalf("the child ended before keeping a partial: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// A registry that stops sending in the middle of a layer (the connection
// stays open) is dropped after the stall timeout and the layer resumed on
// a new connection, within the same attempt.
func TestResumeStallWatchdog(t *testing.T) {
	ri := newResumeImage(t, 4<<20)
	const sent = 1 << 20
	reg := enginetest.NewRegistry(t, registryfaults.StallAt(enginetest.Blob(ri.layer), 1, sent))
	reg.PushImage(t, "team/stall:v1", ri.img)
	e := newEngine(t, enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Resume.StallTimeout = time.Second // long enough that a loaded -race run never takes a slow answer for a stall
	})))
	res, err := e.Pull(context.Background(), reg.Host+"/team/stall:v1", policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
	if err != nil {
		t.Fatalf("the stalled pull failed: %v", err)
	}
	if res.Transfer.Reconnects != 1 {
		t.Errorf("Reconnects = %d, want 1", res.Transfer.Reconnects)
	}
	if n := blobGets(reg, ri.layer); n != 2 {
		t.Errorf("layer GETs = %d, want 2 (the stalled one, the rest)", n)
	}
	if got, want := reg.Requests.BlobBytes(), ri.layerSize+ri.configSize; got != want {
		t.Errorf("the registry served %d blob bytes, want %d (nothing twice)", got, want)
	}
}

// A registry that ignores Range (answers 200) still serves the pull; the
// bytes it sent again are discarded and reported.
func TestResumeRegistryIgnoresRange(t *testing.T) {
	ri := newResumeImage(t, 4<<20)
	const cut = 2 << 20
	reg := enginetest.NewRegistry(t,
		registryfaults.CutAt(enginetest.Blob(ri.layer), 1, cut),
		registryfaults.IgnoreRange(enginetest.Blob(ri.layer), -1))
	reg.PushImage(t, "team/norange:v1", ri.img)
	e := newEngine(t, enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg)))
	res, err := e.Pull(context.Background(), reg.Host+"/team/norange:v1", policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if res.Images[0].ID != enginetest.ID(t, ri.img) {
		t.Errorf("pulled %s", res.Images[0].ID)
	}
	if res.Transfer.BytesDiscarded != cut {
		t.Errorf("BytesDiscarded = %d, want %d", res.Transfer.BytesDiscarded, cut)
	}
	if res.Transfer.BytesFetched < ri.layerSize+cut {
		t.Errorf("BytesFetched = %d, want at least %d (the layer and the discarded prefix)", res.Transfer.BytesFetched, ri.layerSize+cut)
	}
}

// A body longer than the blob's declared size is an Integrity error that
// is not retried, whether the length is announced or not, on the
// resumable path (big layer) and the plain one (small layer); nothing is
// stored and no partial is kept.
func TestDeclaredSizeEnforced(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int64
		announce bool
	}{
		{"big announced", 1 << 20, true},
		{"big chunked", 1 << 20, false},
		{"small announced", 16 << 10, true},
		{"small chunked", 16 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ri := newResumeImage(t, tc.size)
			reg := enginetest.NewRegistry(t, registryfaults.AppendBytes(enginetest.Blob(ri.layer), -1, 4<<20, tc.announce))
			reg.PushImage(t, "team/fat:v1", ri.img)
			opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
			e := newEngine(t, opts)
			_, err := e.Pull(context.Background(), reg.Host+"/team/fat:v1", policy.Always,
				&engine.PullOptions{MaxRetries: ptr(3), RetryDelay: time.Millisecond})
			if k := pullerrors.Classify(err); k != pullerrors.Integrity {
				t.Fatalf("kind %v, want Integrity: %v", k, err)
			}
			if !strings.Contains(err.Error(), "the registry announced") && !strings.Contains(err.Error(), "the registry sent more") {
				t.Errorf("the message does not name the registry: %v", err)
			}
			if n := blobGets(reg, ri.layer); n != 1 {
				t.Errorf("layer GETs = %d, want 1 (no retry of an oversize)", n)
			}
			assertNothingStored(t, e, opts)
		})
	}
}

func assertNothingStored(t *testing.T, e *engine.Engine, opts engine.Options) {
	t.Helper()
	if imgs, err := e.Store().Images(); err != nil || len(imgs) != 0 {
		t.Errorf("images stored: %d, %v", len(imgs), err)
	}
	if layers, err := e.Store().Layers(); err != nil || len(layers) != 0 {
		t.Errorf("layers stored: %d, %v", len(layers), err)
	}
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("partials kept: %v", p)
	}
}

// Limits refuse images past them (Unsupported, not retried, nothing
// stored) and let the others through.
func TestLimits(t *testing.T) {
	text := func(n int) enginetest.Files {
		return enginetest.Files{"log.txt": strings.Repeat("all work and no play\n", n/21)}
	}
	img := enginetest.NewImage(t, enginetest.WithLayer(t, text(600<<10)), enginetest.WithLayer(t, text(700<<10)))
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "team/bomb:v1", img)
	name := reg.Host + "/team/bomb:v1"
	for _, tc := range []struct {
		name   string
		limits engine.Limits
		ok     bool
		gets   int // blob GETs, -1: any
	}{
		{"layers", engine.Limits{MaxLayers: 1}, false, 0},
		{"layer size", engine.Limits{MaxLayerSize: 650 << 10}, false, -1},
		{"image size", engine.Limits{MaxImageSize: 1 << 20}, false, -1},
		{"generous", engine.Limits{MaxLayers: 2, MaxLayerSize: 1 << 20, MaxImageSize: 2 << 20}, true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
				o.Limits = tc.limits
			}))
			e := newEngine(t, opts)
			reg.Requests.Reset()
			_, err := e.Pull(context.Background(), name, policy.Always, &engine.PullOptions{MaxRetries: ptr(2), RetryDelay: time.Millisecond})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if k := pullerrors.Classify(err); k != pullerrors.Unsupported {
				t.Fatalf("kind %v, want Unsupported: %v", k, err)
			}
			if tc.gets >= 0 && reg.Requests.Count(enginetest.BlobGet) != tc.gets {
				t.Errorf("blob GETs = %d, want %d", reg.Requests.Count(enginetest.BlobGet), tc.gets)
			}
			if n := reg.Requests.Count(enginetest.ManifestGet); n != 1 {
				t.Errorf("manifest GETs = %d: the refusal was retried", n)
			}
			if imgs, _ := e.Store().Images(); len(imgs) != 0 {
				t.Errorf("images stored: %d", len(imgs))
			}
		})
	}
}

// New removes the temporary directories of engines that died, never those
// of a live engine on the same store; Close removes its own.
func TestStaleTempDirsCleaned(t *testing.T) {
	opts := enginetest.NewEngineOptions(t)
	base := opts.SystemContext.BigFilesTemporaryDir
	dead := filepath.Join(base, "pullengine-dead")
	if err := os.MkdirAll(dead, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, "blob"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	e1, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e1.Close()
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead engine's directory is still there: %v", err)
	}
	live, _ := filepath.Glob(filepath.Join(base, "pullengine-*"))
	if len(live) != 1 {
		t.Fatalf("engine directories: %v", live)
	}
	e2, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live[0]); err != nil {
		t.Errorf("a second engine removed the first one's directory: %v", err)
	}
	if err := e2.Close(); err != nil {
		t.Fatal(err)
	}
	if now, _ := filepath.Glob(filepath.Join(base, "pullengine-*")); len(now) != 1 || now[0] != live[0] {
		t.Errorf("after the second engine closed: %v, want %v", now, live)
	}
}

// Two engines (one store) pulling the same big layer at once both succeed;
// the partial is used by one at a time and none is left.
func TestResumeTwoEnginesOneBlob(t *testing.T) {
	ri := newResumeImage(t, 2<<20)
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "team/shared:v1", ri.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	engines := []*engine.Engine{newEngine(t, opts), newEngine(t, opts)}
	var wg sync.WaitGroup
	errs := make([]error, len(engines))
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Pull(context.Background(), reg.Host+"/team/shared:v1", policy.Always, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("engine %d: %v", i, err)
		}
	}
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
}

// A registry that never sends a byte of a layer makes the pull fail as a
// Timeout (not a hang, not a cancellation) after a bounded number of
// reconnections: whether it sends the headers and then nothing, or never
// answers at all (a first request with no answer is a stall too).
func TestResumeStallForever(t *testing.T) {
	for name, stall := range map[string]func(enginetest.RequestMatcher) enginetest.RegistryOption{
		"after the headers": func(m enginetest.RequestMatcher) enginetest.RegistryOption { return registryfaults.StallAt(m, -1, 0) },
		"no answer":         func(m enginetest.RequestMatcher) enginetest.RegistryOption { return enginetest.Stall(m, -1) },
	} {
		t.Run(name, func(t *testing.T) {
			ri := newResumeImage(t, 1<<20)
			reg := enginetest.NewRegistry(t, stall(enginetest.Blob(ri.layer)))
			reg.PushImage(t, "team/dead:v1", ri.img)
			e := newEngine(t, enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
				o.Resume.StallTimeout = 100 * time.Millisecond
			})))
			_, err := e.Pull(context.Background(), reg.Host+"/team/dead:v1", policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
			if k := pullerrors.Classify(err); k != pullerrors.Timeout {
				t.Fatalf("kind %v, want Timeout: %v", k, err)
			}
			if n := blobGets(reg, ri.layer); n != 6 {
				t.Errorf("layer GETs = %d, want 6 (one and five reconnections)", n)
			}
		})
	}
}

// A manifest that declares a big layer larger than the registry's blob is
// pulled (the digest names the content, as containers/image accepts), on
// the resumable path too; nothing is kept.
func TestResumeDeclaredLargerThanBlob(t *testing.T) {
	ri := newResumeImage(t, 1<<20)
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "team/liar:v1", ri.img)
	raw, err := ri.img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := ri.img.MediaType()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["layers"].([]any)[0].(map[string]any)["size"] = ri.layerSize + 4096
	liar, _ := json.Marshal(m)
	putManifest(t, reg, "team/liar", "big", string(mt), liar)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	e := newEngine(t, opts)
	res, err := e.Pull(context.Background(), reg.Host+"/team/liar:big", policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID != enginetest.ID(t, ri.img) {
		t.Errorf("stored %s, want %s", res.Images[0].ID, enginetest.ID(t, ri.img))
	}
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("partials kept: %v", p)
	}
}

// A partial whose bytes were damaged on disk fails the digest check when
// resumed; it is removed, and the pull's retry fetches the blob whole and
// succeeds (nothing counted as resumed).
func TestResumeCorruptPartial(t *testing.T) {
	ri := newResumeImage(t, 2<<20)
	var a armed
	var wasCut atomic.Bool
	reg := enginetest.NewRegistry(t,
		enginetest.FailWith(enginetest.And(a.blob(ri.layer), func(*http.Request) bool { return wasCut.Load() }), -1, 503, "UNAVAILABLE", "down"),
		registryfaults.CutAt(enginetest.And(a.blob(ri.layer), func(*http.Request) bool { wasCut.Store(true); return true }), 1, 1<<20))
	reg.PushImage(t, "team/rot:v1", ri.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	e := newEngine(t, opts)
	name := reg.Host + "/team/rot:v1"
	a.on.Store(true)
	if _, err := e.Pull(context.Background(), name, policy.Always, &engine.PullOptions{MaxRetries: ptr(0)}); err == nil {
		t.Fatal("the cut pull succeeded")
	}
	a.on.Store(false)
	p := partials(t, opts)
	if len(p) != 1 {
		t.Fatalf("partials: %v", p)
	}
	f, err := os.OpenFile(p[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("rot"), 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := e.Pull(context.Background(), name, policy.Always, &engine.PullOptions{MaxRetries: ptr(1), RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatalf("the pull after the damage: %v", err)
	}
	if res.Images[0].ID != enginetest.ID(t, ri.img) {
		t.Errorf("pulled %s", res.Images[0].ID)
	}
	if res.Transfer.BytesResumed != 0 {
		t.Errorf("BytesResumed = %d after a failed resume, want 0", res.Transfer.BytesResumed)
	}
	if left := partials(t, opts); len(left) != 0 {
		t.Errorf("partials left: %v", left)
	}
}

// A pull canceled in the middle of a layer keeps what arrived; the next
// pull fetches only the rest.
func TestResumeAfterCancel(t *testing.T) {
	ri := newResumeImage(t, 4<<20)
	const sent = 2 << 20
	reg := enginetest.NewRegistry(t, registryfaults.StallAt(enginetest.Blob(ri.layer), 1, sent))
	reg.PushImage(t, "team/cancel:v1", ri.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	e := newEngine(t, opts)
	name := reg.Host + "/team/cancel:v1"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Pull(ctx, name, policy.Always, nil)
		done <- err
	}()
	waitForKeptBytes(t, opts, ri.layer, 1<<20, done)
	cancel()
	if err := <-done; pullerrors.Classify(err) != pullerrors.Canceled {
		t.Fatalf("the canceled pull: %v", err)
	}
	reg.Requests.Reset()
	res, err := e.Pull(context.Background(), name, policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.BytesResumed < 1<<20 || res.Transfer.BytesResumed > sent {
		t.Errorf("BytesResumed = %d, want what arrived before the cancel (1 to 2 MiB)", res.Transfer.BytesResumed)
	}
	if got, want := reg.Requests.BlobBytes(), ri.layerSize-res.Transfer.BytesResumed+ri.configSize; got != want {
		t.Errorf("the registry served %d blob bytes, want %d", got, want)
	}
}
