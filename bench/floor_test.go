package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/pgzip"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// The physical floor of a cold pull, as contenders in metric names: the
// same layers gunzipped and untarred into a directory, then synced, by one
// goroutine ("floor") or one goroutine per layer ("floor-par"), with no
// registry, hashing, tar-split or storage bookkeeping.
const (
	floor    = "floor"
	floorPar = "floor-par"
)

// BenchmarkColdFloor: a cold pull of the 5-layer image into a fresh
// overlay store, engine vs bare copy.Image, and the physical floor of the
// same layers measured in the same op (ratios engine/copy, engine/floor,
// copy/floor, wall and CPU time).
func BenchmarkColdFloor(b *testing.B) {
	if d, reason := enginetest.DefaultDriver(); d != "overlay" {
		b.Skipf("overlay unavailable: %s", reason)
	}
	ctx := context.Background()
	reg := enginetest.NewRegistry(b)
	img := coldImage(b)
	reg.PushImage(b, "bench/floor:v1", img)
	name := reg.Host + "/bench/floor:v1"
	blobs := layerBlobs(b, img)

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, cpy, floor, floorPar) {
			switch who {
			case floor, floorPar:
				dir := b.TempDir()
				t.measure(b, who, func() error { return unpackFloor(dir, blobs, who == floorPar) })
				_ = os.RemoveAll(dir)
			default:
				s := newOverlaySide(b, who, reg.Host)
				t.measure(b, who, func() error { return s.pull(ctx, name, policy.Missing) })
				s.close(b)
			}
		}
		t.n++
		b.StartTimer()
	}
	b.SetBytes(imageBytes(b, img))
	t.report(b, "engine/copy", "engine/floor", "copy/floor", "engine/floor-par")
}

// newOverlaySide is newSideFor(who) over an overlay store.
func newOverlaySide(b testing.TB, who, host string) *side {
	b.Helper()
	opts := enginetest.NewEngineOptions(b, enginetest.WithRegistryHost(host), enginetest.WithDriver("overlay"))
	sys := *opts.SystemContext
	sys.SystemRegistriesConfPath = opts.RegistriesConfPath
	sys.SystemRegistriesConfDirPath = opts.RegistriesConfPath + ".d"
	sys.SignaturePolicyPath = opts.SignaturePolicyPath
	sys.AuthFilePath = opts.AuthFilePath
	s := &side{opts: opts, sys: &sys}
	if who == eng {
		e, err := engine.New(opts)
		if err != nil {
			b.Fatalf("engine.New: %v", err)
		}
		s.e = e
		return s
	}
	st, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot:          opts.RootDir,
		RunRoot:            opts.RunDir,
		GraphDriverName:    "overlay",
		GraphDriverOptions: opts.GraphDriverOptions,
	})
	if err != nil {
		b.Fatalf("opening store: %v", err)
	}
	s.store = st
	p, err := signature.DefaultPolicy(s.sys)
	if err != nil {
		b.Fatalf("policy: %v", err)
	}
	s.pol = p
	return s
}

// layerBlobs holds img's compressed layers in memory, so the floor reads
// no network and no disk.
func layerBlobs(b testing.TB, img v1.Image) [][]byte {
	b.Helper()
	layers, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// unpackFloor gunzips and untars every blob into a directory of its own
// under dir (serially, or one goroutine per layer), then syncs the
// filesystem (syncfs), as a layer store must before it records layers.
func unpackFloor(dir string, blobs [][]byte, parallel bool) error {
	errs := make([]error, len(blobs))
	var wg sync.WaitGroup
	for i, blob := range blobs {
		layerDir := filepath.Join(dir, fmt.Sprint(i))
		if !parallel {
			if err := untarGzip(layerDir, blob); err != nil {
				return err
			}
			continue
		}
		wg.Go(func() { errs[i] = untarGzip(layerDir, blob) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// untarGzip extracts the gzip tar blob into dir: directories, regular
// files and symlinks, with their modes (the layers of the benchmark hold
// nothing else).
func untarGzip(dir string, blob []byte) error {
	zr, err := pgzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		clean := filepath.Clean("/" + h.Name)
		if strings.Contains(clean, "..") {
			return fmt.Errorf("unexpected path %q", h.Name)
		}
		p := filepath.Join(dir, clean)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			err = writeFile(p, tr, os.FileMode(h.Mode)&os.ModePerm)
		}
		if err != nil {
			return err
		}
	}
}

// writeFile creates p (and its parent) with the content of r.
func writeFile(p string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
