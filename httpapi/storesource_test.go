package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// storeEnv is a handler allowing one other store (allowed, vfs) holding
// hello; second is a store it does not allow, holding another image.
type storeEnv struct {
	*env
	allowed, second string
	helloID         string
}

func newStoreEnv(t *testing.T) *storeEnv {
	t.Helper()
	pullInto := func() (string, string) {
		o := enginetest.NewEngine(t, enginetest.WithDriver("vfs"))
		res, err := o.Pull(t.Context(), "oci-archive:"+filepath.Join("..", "testdata", "hello.oci.tar"), policy.Always, nil)
		must(t, err)
		return o.Store().GraphRoot(), res.Images[0].ID
	}
	allowed, id := pullInto()
	second, _ := pullInto()
	v := newEnv(t, withEngineOptions(enginetest.WithEngineOptions(func(o *engine.Options) {
		o.AllowedStores = []string{allowed}
	})))
	return &storeEnv{env: v, allowed: allowed, second: second, helloID: id}
}

// Item 5: only [driver@graphroot] of an allowed store is accepted; driver
// options (an image store elsewhere), run roots, a missing or wrong driver
// are 403, store nothing, and create nothing in the allowed store.
func TestLocalStoreSpecsRefused(t *testing.T) {
	s := newStoreEnv(t)
	const img = "]localhost/pullengine/hello:1.0"
	for _, spec := range []string{
		"[vfs@" + s.allowed + ":vfs.imagestore=" + s.second + img,
		"[vfs@" + s.allowed + "+" + t.TempDir() + img,
		"[" + s.allowed + img,
		"[overlay@" + s.allowed + img,
		"[vfs@" + s.second + img,
	} {
		m := s.pull(t, q("reference", "containers-storage:"+spec, "policy", "always"), nil).errorBody(t, http.StatusForbidden)
		if !strings.Contains(m.Message, "store") {
			t.Errorf("%s: %q", spec, m.Message)
		}
	}
	if imgs, _ := s.e.Store().Images(); len(imgs) != 0 {
		t.Errorf("refused pulls stored %d images", len(imgs))
	}
	for _, dir := range []string{"overlay", "overlay-layers", "overlay-images"} {
		if _, err := os.Stat(filepath.Join(s.allowed, dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was created in the allowed store (%v)", dir, err)
		}
	}
}

// Item 5: the allowed store is opened once and reused: many pulls from it
// do not grow the heap (containers/image's own parsing opened a store per
// request, never shut down: 179 MiB over 20,000 requests; the bound is
// 100 MiB per 20,000, here proportional to the requests made).
func TestLocalStoreReusedBounded(t *testing.T) {
	s := newStoreEnv(t)
	ref := "containers-storage:[vfs@" + s.allowed + "]localhost/pullengine/hello:1.0"
	pull := func() {
		lines := s.pull(t, q("reference", ref, "policy", "always", "quiet", "true"), nil)
		if lines.status != http.StatusOK {
			t.Fatalf("status %d: %s", lines.status, lines.body)
		}
	}
	for range 20 {
		pull() // warm up: caches, pools
	}
	const n = 200
	before := heapInUse()
	for range n {
		pull()
	}
	grown := heapInUse() - before
	bound := int64(100<<20) * n / 20000
	t.Logf("heap grew %d KiB over %d pulls (bound %d KiB)", grown>>10, n, bound>>10)
	if grown > bound {
		t.Errorf("heap grew %d bytes over %d pulls, more than %d", grown, n, bound)
	}
	imgs, err := s.e.Store().Images()
	must(t, err)
	if len(imgs) != 1 || imgs[0].ID != s.helloID {
		t.Errorf("store holds %v, want hello only", imgs)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
