package engine_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// blobByteCounter counts the body bytes a registry sends for one blob.
type blobByteCounter struct {
	d digest.Digest
	n atomic.Int64
}

func (c *blobByteCounter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if enginetest.Kind(enginetest.BlobGet)(r) && enginetest.Blob(c.d)(r) {
			w = &countingWriter{ResponseWriter: w, n: &c.n}
		}
		next.ServeHTTP(w, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stagingDirs lists the overlay driver's staging directories of the store.
func stagingDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "overlay", "staging"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A fast-path pull SIGKILLed while its layers are staging (the upper
// layer's small blob sent whole, the base layer's blob cut at half, both
// with staging directories) leaves a store
// that opens and checks clean, with nothing under the name and no layer;
// the next pull goes through the fast path, fetches only the rest of the
// cut blob (its kept half resumed), and leaves no staging directory.
func TestFastPathKillWhileStaging(t *testing.T) {
	needOverlay(t)
	ri := newResumeImage(t, 6<<20)
	// The upper layer is small, so halfBlob lets it through whole.
	upper := layerOf(t, buildLayerTar(t, tReg("upper", 0o644, "staged in full\n")), "gzip", false)
	layers, err := ri.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, false, layers[0], upper)
	h := &halfBlob{reached: make(chan struct{}), release: make(chan struct{})}
	count := &blobByteCounter{d: ri.layer}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(count.middleware), enginetest.WithMiddleware(h.middleware))
	reg.PushImage(t, "fp/victim:v1", img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	name := reg.Host + "/fp/victim:v1"
	h.armed.Store(true)

	cmd, exited := startPuller(t, opts, name)
	// Kill once the child kept the half the registry sent and both layers
	// have staging directories (polled, no time limit but the test's).
	half := ri.layerSize / 2
	saved := waitForKeptBytes(t, opts, ri.layer, half, exited)
	staged := waitForStaging(t, opts.RootDir, 2, exited)
	h.killChild(t, cmd, exited)
	t.Logf("killed with %d bytes kept and staging directories %v", saved, staged)

	e := newEngine(t, opts)
	ctx := context.Background()
	if _, err := e.Pull(ctx, name, policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("after the kill, the name holds something: %v", err)
	}
	if layers, err := e.Store().Layers(); err != nil || len(layers) != 0 {
		t.Errorf("after the kill: %d layers visible (%v), want none", len(layers), err)
	}
	report, err := e.Store().Check(storage.CheckEverything())
	if err != nil || len(report.Layers)+len(report.ROLayers)+len(report.Images)+len(report.ROImages) != 0 {
		t.Errorf("store check after the kill: %+v, %v", report, err)
	}

	count.n.Store(0)
	res, err := e.Pull(ctx, name, policy.Missing, nil)
	if err != nil {
		t.Fatalf("the pull after the kill: %v", err)
	}
	if res.Transfer.Path != engine.PathFast || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("the pull after the kill: path %q, image %s; want %q, %s", res.Transfer.Path, res.Images[0].ID, engine.PathFast, enginetest.ID(t, img))
	}
	if res.Transfer.BytesResumed != saved {
		t.Errorf("BytesResumed = %d, the child had kept %d", res.Transfer.BytesResumed, saved)
	}
	if refetched := count.n.Load() - (ri.layerSize - saved); refetched*100 > ri.layerSize {
		t.Errorf("the cut blob: %d bytes served after the kill, %d of them already kept (over 1%% of %d)", count.n.Load(), refetched, ri.layerSize)
	}
	// The pull leaves none of its own staging directories; those of the
	// killed process (no live lock) go when the store shuts down, as
	// containers/storage's overlay driver prunes them.
	left := stagingDirs(t, opts.RootDir)
	for _, d := range left {
		if !slices.Contains(staged, d) {
			t.Errorf("the pull after the kill left staging directory %s (all: %v)", d, left)
		}
	}
	if report, err := e.Store().Check(storage.CheckEverything()); err != nil || len(report.Layers)+len(report.Images) != 0 {
		t.Errorf("store check after the pull: %+v, %v", report, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if left := stagingDirs(t, opts.RootDir); len(left) != 0 {
		t.Errorf("staging directories left after the engine closed: %v", left)
	}
}

// waitForStaging polls the store's overlay staging directory until it
// holds at least n directories, and returns them.
func waitForStaging(t *testing.T, root string, n int, exited chan error) []string {
	t.Helper()
	for {
		if dirs := stagingDirs(t, root); len(dirs) >= n {
			return dirs
		}
		select {
		case err := <-exited:
			t.Fatalf("the child ended before staging %d layers: %v", n, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
