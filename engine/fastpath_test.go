package engine_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// needOverlay skips a fast-path test where the kit cannot use overlay.
func needOverlay(t *testing.T) {
	t.Helper()
	if d, reason := enginetest.DefaultDriver(); d != "overlay" {
		t.Skipf("overlay unavailable: %s", reason)
	}
}

// assertStoreEmpty asserts the store holds no image, no layer and no
// staging directory.
func assertStoreEmpty(t *testing.T, what string, e *engine.Engine) {
	t.Helper()
	if imgs, err := e.Store().Images(); err != nil || len(imgs) != 0 {
		t.Errorf("%s: images left: %d (%v)", what, len(imgs), err)
	}
	if ls, err := e.Store().Layers(); err != nil || len(ls) != 0 {
		t.Errorf("%s: layers left: %d (%v)", what, len(ls), err)
	}
	staging, _ := os.ReadDir(filepath.Join(e.Store().GraphRoot(), "overlay", "staging"))
	if len(staging) != 0 {
		t.Errorf("%s: staging directories left: %v", what, staging)
	}
}

// A blob or a diff ID that does not match is Integrity, and leaves no
// layer, staging directory or image.
func TestFastPathDigestMismatchLeavesNothing(t *testing.T) {
	needOverlay(t)
	zero := 0
	ctx := context.Background()

	t.Run("blob digest", func(t *testing.T) {
		img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 512<<10))
		reg := enginetest.NewRegistry(t, enginetest.CorruptBody(enginetest.Blob(layerDigests(t, img)[0]), 100))
		reg.PushImage(t, "fp/bad:v1", img)
		e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
		_, err := e.Pull(ctx, reg.Host+"/fp/bad:v1", policy.Always, &engine.PullOptions{MaxRetries: &zero})
		if pullerrors.Classify(err) != pullerrors.Integrity {
			t.Fatalf("pull: %v (%s), want integrity", err, pullerrors.Classify(err))
		}
		assertStoreEmpty(t, "corrupt blob", e)
	})

	t.Run("diff ID", func(t *testing.T) {
		img := enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"a": "1"}))
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[0] = ggcr.Hash{Algorithm: "sha256", Hex: "0123456789012345678901234567890123456789012345678901234567890123"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		reg := enginetest.NewRegistry(t)
		reg.PushImage(t, "fp/liar:v1", img)
		e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
		_, err = e.Pull(ctx, reg.Host+"/fp/liar:v1", policy.Always, &engine.PullOptions{MaxRetries: &zero})
		if pullerrors.Classify(err) != pullerrors.Integrity {
			t.Fatalf("pull: %v (%s), want integrity", err, pullerrors.Classify(err))
		}
		assertStoreEmpty(t, "wrong diff ID", e)
	})
}

// A layer whose entries try to leave the layer's root is Integrity, not
// retried, and nothing is written outside the staging directory.
func TestFastPathTarEscapeIsIntegrity(t *testing.T) {
	needOverlay(t)
	outside := t.TempDir()
	escapes := [][]layerEntry{
		{tReg("../../../../../../../../.."+outside+"/dotdot", 0o644, "x")},
		{tSymlink("up", outside), tReg("up/through-symlink", 0o644, "x")},
		{tReg("target", 0o644, "x"), tHardlink("hard", outside+"/../../../../etc/passwd")},
	}
	for i, entries := range escapes {
		img := imageOf(t, false, layerOf(t, buildLayerTar(t, entries...), "gzip", false))
		reg := enginetest.NewRegistry(t)
		reg.PushImage(t, "fp/escape:v1", img)
		e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
		_, err := e.Pull(context.Background(), reg.Host+"/fp/escape:v1", policy.Always, nil)
		if k := pullerrors.Classify(err); k != pullerrors.Integrity || pullerrors.Retryable(err) {
			t.Errorf("escape %d: %v (%s, retryable %v), want integrity, not retried", i, err, k, pullerrors.Retryable(err))
		}
		if left, _ := os.ReadDir(outside); len(left) != 0 {
			t.Errorf("escape %d: written outside the layer: %v", i, left)
		}
		assertStoreEmpty(t, "escape", e)
	}
}

// Which path serves a pull: the fast path on overlay, copy.Image on vfs
// and when the option turns the fast path off.
func TestFastPathServesOverlayOnly(t *testing.T) {
	needOverlay(t)
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "fp/app:v1", enginetest.Files{"a": "1"})
	ref := reg.Host + "/fp/app:v1"
	for _, c := range []struct {
		what string
		opts []enginetest.EngineOption
		want string
	}{
		{"overlay", nil, engine.PathFast},
		{"vfs", []enginetest.EngineOption{enginetest.WithDriver("vfs")}, engine.PathCopy},
		{"disabled", []enginetest.EngineOption{enginetest.WithEngineOptions(func(o *engine.Options) { o.DisableFastPath = true })}, engine.PathCopy},
	} {
		e := enginetest.NewEngine(t, append([]enginetest.EngineOption{enginetest.WithRegistry(reg)}, c.opts...)...)
		res, err := e.Pull(context.Background(), ref, policy.Always, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if res.Transfer.Path != c.want {
			t.Errorf("%s: Transfer.Path %q, want %q", c.what, res.Transfer.Path, c.want)
		}
		// A second pull finds everything stored: nothing copied by either.
		res, err = e.Pull(context.Background(), ref, policy.Always, nil)
		if err != nil || res.Transfer.BlobsFetched != 1 || res.Transfer.BlobsReused != 1 { // the config, and the layer reused
			t.Errorf("%s: again: %+v, %v; want the layer reused", c.what, res.Transfer, err)
		}
	}
}

// The signature policy is enforced by the fast path before anything is
// fetched: a rejecting policy fetches no blob and stores nothing.
func TestFastPathEnforcesSignaturePolicy(t *testing.T) {
	needOverlay(t)
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "fp/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithPolicyJSON(`{"default":[{"type":"reject"}]}`))
	_, err := e.Pull(context.Background(), reg.Host+"/fp/app:v1", policy.Always, nil)
	if pullerrors.Classify(err) != pullerrors.Denied {
		t.Fatalf("pull: %v (%s), want denied", err, pullerrors.Classify(err))
	}
	if n := reg.Requests.Count(enginetest.BlobGet); n != 0 {
		t.Errorf("%d blob GETs before the policy refused the image", n)
	}
	assertStoreEmpty(t, "rejected", e)
}

// Progress keeps coming while layers are fetched and unpacked: on a slow
// link, a layer's BlobProgress events arrive between its BlobStarted and
// BlobDone, and no two events of the pull are a minute apart.
func TestFastPathProgressWhileUnpacking(t *testing.T) {
	needOverlay(t)
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 3<<20))
	reg := enginetest.NewRegistry(t, enginetest.Throttle(1<<20))
	reg.PushImage(t, "fp/slow:v1", img)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	rec := &recorder{}
	res, err := e.Pull(context.Background(), reg.Host+"/fp/slow:v1", policy.Always, &engine.PullOptions{Progress: rec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.Path != engine.PathFast {
		t.Fatalf("path %q", res.Transfer.Path)
	}
	layer := layerDigests(t, img)[0]
	var kinds []progress.EventKind
	var last time.Time
	for _, ev := range rec.events {
		if !last.IsZero() && ev.Time.Sub(last) >= time.Minute {
			t.Errorf("a silent minute before %s", ev.Kind)
		}
		last = ev.Time
		if ev.Digest == layer {
			kinds = append(kinds, ev.Kind)
		}
	}
	progressed := slices.Index(kinds, progress.BlobProgress)
	if kinds[0] != progress.BlobStarted || kinds[len(kinds)-1] != progress.BlobDone || progressed < 0 {
		t.Errorf("layer events %v; want started, progress, done", kinds)
	}
}

// The overlay driver's one-time probe (idmapped lower layers: a user
// namespace and a test mount, recorded in the run root) runs while the
// layers download, not after the first one: the registry holds every
// layer blob until the probe's answer is recorded, and the pull completes.
// Started only when the first layer is created, the probe would wait for
// the blob and the blob for the probe.
func TestFastPathDriverProbeOverlapsDownloads(t *testing.T) {
	needOverlay(t)
	if os.Geteuid() != 0 {
		t.Skip("the overlay driver probes idmapped mounts only as root")
	}
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 1<<20))
	layer := layerDigests(t, img)[0]
	var runDir string
	recorded := func() bool {
		found, _ := filepath.Glob(filepath.Join(runDir, "overlay", "idmapped-lower-dir-*"))
		return len(found) > 0
	}
	var held atomic.Int32
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if enginetest.Blob(layer)(r) {
				held.Add(1)
				for !recorded() { // a hang guard, not a timing assertion
					select {
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(hold))
	reg.PushImage(t, "fp/probe:v1", img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	runDir = opts.RunDir
	e := newEngine(t, opts)
	if recorded() {
		t.Fatal("the new store's run root has the probe's answer before any pull")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	res, err := e.Pull(ctx, reg.Host+"/fp/probe:v1", policy.Always, nil)
	if err != nil {
		t.Fatalf("pull (the layer blob waits for the probe): %v", err)
	}
	if res.Transfer.Path != engine.PathFast || held.Load() == 0 {
		t.Errorf("path %q, layer requests held %d", res.Transfer.Path, held.Load())
	}
}

// An Engine closed before it pulled anything leaves the store's probe
// usable: the next Engine on the same store pulls (Close once used up
// the probe's start, and the next pull waited for a probe never started).
func TestFastPathDriverProbeAfterAnEngineClosedUnused(t *testing.T) {
	needOverlay(t)
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "fp/app:v1", enginetest.Files{"a": "1"})
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	unused, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := unused.Close(); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, opts)
	done := make(chan error, 1)
	go func() {
		_, err := e.Pull(context.Background(), reg.Host+"/fp/app:v1", policy.Always, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatal("the pull after an unused Engine's Close did not end")
	}
}
