package bench

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
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
	// put and putVerify: streamPut below, without and with verification.
	put       = "put"
	putVerify = "put-verify"
	// staged: stagedPut (staged_test.go).
	staged = "staged"
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
	reg, img, name := floorRegistry(b)
	blobs := layerBlobs(b, img)
	puts := map[string]*streamPut{
		put:       newStreamPut(b, reg.Host, "bench/floor", img, false),
		putVerify: newStreamPut(b, reg.Host, "bench/floor", img, true),
	}
	stagedAll := stagedPut{puts[put]}

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, cpy, floor, floorPar, put, putVerify, staged) {
			switch who {
			case floor, floorPar:
				dir := b.TempDir()
				t.measure(b, who, func() error { return unpackFloor(dir, blobs, who == floorPar) })
				_ = os.RemoveAll(dir)
			case put, putVerify:
				s := newOverlaySide(b, cpy, reg.Host)
				t.measure(b, who, func() error { return puts[who].pull(ctx, s.store) })
				s.close(b)
			case staged:
				s := newOverlaySide(b, cpy, reg.Host)
				t.measure(b, who, func() error { return stagedAll.pull(ctx, s.store) })
				s.close(b)
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
	t.report(b, "engine/copy", "engine/floor", "copy/floor", "engine/floor-par", "put/copy", "put-verify/copy", "put-verify/floor", "staged/copy", "staged/floor")
}

// floorRegistry serves the 5-layer image of the cold benchmarks.
func floorRegistry(b testing.TB) (*enginetest.Registry, v1.Image, string) {
	reg := enginetest.NewRegistry(b)
	img := coldImage(b)
	reg.PushImage(b, "bench/floor:v1", img)
	return reg, img, reg.Host + "/bench/floor:v1"
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
func untarGzip(dir string, blob []byte) error { return untarGzipFrom(dir, bytes.NewReader(blob)) }

// untarGzipFrom is untarGzip of a stream.
func untarGzipFrom(dir string, blob io.Reader) error {
	zr, err := pgzip.NewReader(blob)
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

// BenchmarkColdLargeFloor: the 1 GiB image of BenchmarkColdLarge (4
// layers, generated while served) into fresh overlay stores, engine vs
// copy.Image vs the staged layer work, against the floor: the same blobs
// fetched from the same server one after another, each gunzipped and
// untarred as it arrives, then syncfs (the blobs are too big to hold in
// memory, so this floor includes the loopback transfer and the server's
// generation, as every contender does).
func BenchmarkColdLargeFloor(b *testing.B) {
	if d, reason := enginetest.DefaultDriver(); d != "overlay" {
		b.Skipf("overlay unavailable: %s", reason)
	}
	ctx := context.Background()
	img, err := newGenImage(1<<30, 4)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(img.handler())
	b.Cleanup(srv.Close)
	host := srv.Listener.Addr().String()
	name := host + "/bench/big:v1"
	sp := img.streamPut(host, "bench/big", false)

	var t tally
	for b.Loop() {
		b.StopTimer()
		for _, who := range rotate(t.n, eng, cpy, floor, staged) {
			switch who {
			case floor:
				dir := b.TempDir()
				t.measure(b, who, func() error { return sp.fetchFloor(ctx, dir) })
				_ = os.RemoveAll(dir)
			case staged:
				s := newOverlaySide(b, cpy, host)
				t.measure(b, who, func() error { return stagedPut{sp}.pull(ctx, s.store) })
				s.close(b)
			default:
				s := newOverlaySide(b, who, host)
				t.measure(b, who, func() error { return s.pull(ctx, name, policy.Missing) })
				s.close(b)
			}
		}
		t.n++
		b.StartTimer()
	}
	b.SetBytes(img.size())
	t.report(b, "engine/copy", "engine/floor", "copy/floor", "staged/copy", "staged/floor")
}

// fetchFloor is the streamed floor: every blob fetched in turn, gunzipped
// and untarred as it arrives into a directory of its own, then syncfs.
func (sp *streamPut) fetchFloor(ctx context.Context, dir string) error {
	for i, blob := range sp.blobs {
		body, err := sp.get(ctx, i)
		if err != nil {
			return err
		}
		err = untarGzipFrom(filepath.Join(dir, fmt.Sprint(i)), body)
		body.Close()
		if err != nil {
			return fmt.Errorf("blob %s: %w", blob, err)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
