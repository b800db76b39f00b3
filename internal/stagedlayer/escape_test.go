package stagedlayer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/internal/stagedlayer"
	"go.podman.io/storage"
)

// TestEscapesRefused stages tars that try to write outside the layer root
// and checks that each fails with ErrUnsafePath, that a sentinel
// directory beside the store is untouched, and that the staging
// directory is gone after CleanupStagedLayer. The store's staging
// directory is <tmp>/root/overlay/staging/<random>/dir, so ten ".." from
// it reach "/" and the sentinel is named by its absolute path from there.
func TestEscapesRefused(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		name := "openat2"
		if fallback {
			name = "os.Root fallback"
		}
		t.Run(name, func(t *testing.T) {
			if fallback {
				defer stagedlayer.UseRootFallback()()
			}
			testEscapes(t)
		})
	}
}

func testEscapes(t *testing.T) {
	tmp := t.TempDir()
	sentinel := filepath.Join(tmp, "sentinel")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sentinel, "target"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 10) + strings.TrimPrefix(sentinel, "/")
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dot-dot name", []entry{file(up+"/pwned", 0o644, "x")}},
		{"dot-dot inside a name", []entry{dir("a/", 0o755), file("a/../../../../../../../../../../.."+sentinel+"/pwned", 0o644, "x")}},
		{"absolute name", []entry{file(sentinel+"/pwned", 0o644, "x")}},
		{"absolute directory name", []entry{dir(sentinel+"/newdir/", 0o755)}},
		{"dot-dot directory name", []entry{dir(up+"/newdir/", 0o755)}},
		{"write through an absolute symlink", []entry{symlink("esc", sentinel), file("esc/pwned", 0o644, "x")}},
		{"write through a relative symlink", []entry{symlink("esc", up), file("esc/pwned", 0o644, "x")}},
		{"symlink component planted deeper", []entry{dir("a/", 0o755), symlink("a/b", "../"+up), file("a/b/x/pwned", 0o644, "x")}},
		{"directory through a symlink", []entry{symlink("esc", sentinel), dir("esc/newdir/", 0o755)}},
		{"chain of symlinks", []entry{symlink("one", "two"), symlink("two", up), file("one/pwned", 0o644, "x")}},
		{"hardlink to a dot-dot name", []entry{hardlink("hl", up+"/target")}},
		{"hardlink to an absolute name", []entry{hardlink("hl", sentinel+"/target")}},
		{"hardlink through a symlink", []entry{symlink("esc", sentinel), hardlink("hl", "esc/target")}},
		{"whiteout through a symlink", []entry{symlink("esc", sentinel), file("esc/.wh.target", 0o644, "")}},
		{"opaque marker through a symlink", []entry{symlink("esc", sentinel), file("esc/.wh..wh..opq", 0o644, "")}},
		{"device through a symlink", []entry{symlink("esc", sentinel), node("esc/null", '3', 0o666, 1, 3)}},
		{"symlink replaced by a directory", []entry{symlink("d", sentinel), dir("d/", 0o755), file("d/pwned", 0o644, "x")}},
		{"directory replaced by a symlink", []entry{dir("d/", 0o755), symlink("d", sentinel), file("d/pwned", 0o644, "x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOverlayStore(t)
			before := snapshot(t, sentinel, func(string, *unixStat) bool { return false })
			b := gzipBlob(t, buildTar(t, tc.entries...))
			out, err := s.PrepareStagedLayer(nil, stagedlayer.NewDiffer(b.layer()))
			if !errors.Is(err, stagedlayer.ErrUnsafePath) {
				t.Errorf("PrepareStagedLayer: %v, want ErrUnsafePath", err)
			}
			if out != nil {
				if err := s.CleanupStagedLayer(out); err != nil {
					t.Errorf("CleanupStagedLayer: %v", err)
				}
				if _, err := os.Lstat(filepath.Dir(out.Target)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("staging directory %s still there (%v)", out.Target, err)
				}
			}
			compareTrees(t, "sentinel", before, snapshot(t, sentinel, func(string, *unixStat) bool { return false }))
			assertNoLayers(t, s)
		})
	}
}

// assertNoLayers checks that the store records no layer.
func assertNoLayers(t testing.TB, s storage.Store) {
	t.Helper()
	layers, err := s.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 0 {
		t.Errorf("store has %d layers, want none", len(layers))
	}
}
