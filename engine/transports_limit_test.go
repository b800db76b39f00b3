package engine_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// Limits.MaxImageSize bounds what an oci-archive may unpack to: an archive
// holding a good image and a 1 GiB entry (holes on disk) is refused before
// containers/image extracts it (Unsupported), and nothing is stored or left
// in the temporary directory; the good image alone still pulls under the same limit.
func TestTransportOCIArchiveUnpackLimit(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.oci.tar")
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithRandomLayer(t, 64<<10))
	enginetest.WriteOCIArchive(t, good, img, nil)
	fat := filepath.Join(dir, "fat.oci.tar")
	appendSparseEntry(t, good, fat, 1<<30)

	opts := enginetest.NewEngineOptions(t)
	opts.Limits = engine.Limits{MaxImageSize: 1 << 20}
	tmp := t.TempDir() // where containers/image would extract the archive
	opts.SystemContext.BigFilesTemporaryDir = tmp
	e := newEngine(t, opts)
	_, err := e.Pull(context.Background(), "oci-archive:"+fat, policy.Always, nil)
	if k := pullerrors.Classify(err); k != pullerrors.Unsupported {
		t.Fatalf("kind %v, want unsupported: %v", k, err)
	}
	if !strings.Contains(err.Error(), "unpack to more than the limit") {
		t.Errorf("error %q does not say what was refused", err)
	}
	if imgs, err := e.Store().Images(); err != nil || len(imgs) != 0 {
		t.Errorf("images stored: %d, %v", len(imgs), err)
	}
	if layers, err := e.Store().Layers(); err != nil || len(layers) != 0 {
		t.Errorf("layers stored: %d, %v", len(layers), err)
	}
	if left := tmpFiles(t, tmp); len(left) != 0 {
		t.Errorf("left in the temporary directory: %q", left)
	}

	res, err := e.Pull(context.Background(), "oci-archive:"+good, policy.Always, nil)
	if err != nil {
		t.Fatalf("the good archive under the same limit: %v", err)
	}
	if len(res.Images) != 1 || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("pulled %+v, want %s", res.Images, enginetest.ID(t, img))
	}
}

// appendSparseEntry copies the tar at from to to, with a last entry of
// size bytes that are holes on disk.
func appendSparseEntry(t *testing.T, from, to string, size int64) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	copyTarEntries(t, tw, in)
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/padding", Typeflag: tar.TypeReg, Size: size, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err == nil {
		t.Fatal("the entry's body was expected to be missing")
	}
	end, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Truncate(end + size + 1024); err != nil { // the body and the end blocks, as holes
		t.Fatal(err)
	}
}

// tmpFiles lists what lies under dir but the Engines' private directories
// and their lock files.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(rel, string(filepath.Separator))
		switch {
		case rel == ".":
		case strings.HasPrefix(parts[0], "pullengine-") && (len(parts) == 1 || (len(parts) == 2 && parts[1] == ".owner.lock")):
		default:
			left = append(left, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}
