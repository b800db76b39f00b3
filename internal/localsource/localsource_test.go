package localsource

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pullerrors "github.com/pullengine/pullengine/errors"
)

// A canceled context stops the copy with a Canceled error, and nothing
// is left in the temporary directory.
func TestOpenCanceled(t *testing.T) {
	root, tmp := t.TempDir(), t.TempDir()
	layout := filepath.Join(root, "layout")
	if err := os.MkdirAll(filepath.Join(layout, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, root, "layout", Layout, "oci:"+layout, Options{TempDir: tmp})
	if k := pullerrors.Classify(err); k != pullerrors.Canceled {
		t.Errorf("kind %v, want canceled: %v", k, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// An archive past MaxBytes is refused (Unsupported) and its copy removed;
// one within is readable at Path until Close removes it.
func TestOpenBudget(t *testing.T) {
	root, tmp := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.tar"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), root, "a.tar", OCIArchive, "a.tar", Options{TempDir: tmp, MaxBytes: 1000})
	if k := pullerrors.Classify(err); k != pullerrors.Unsupported {
		t.Errorf("kind %v, want unsupported: %v", k, err)
	}
	src, err := Open(context.Background(), root, "a.tar", OCIArchive, "a.tar", Options{TempDir: tmp, MaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(src.Path); err != nil || fi.Size() != 4096 {
		t.Errorf("copy %v %v", fi, err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
