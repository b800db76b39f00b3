package stagedlayer_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/stagedlayer"
	"go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
)

// TestStagedLayerRebuildsTar stages a gzip layer and checks that the
// layer record carries both digests and that storage rebuilds the very
// tar from the differ's tar-split.
func TestStagedLayerRebuildsTar(t *testing.T) {
	s := newOverlayStore(t)
	tarData := corpusLayers(t)[0].tar
	b := gzipBlob(t, tarData)
	l, err := stageLayer(s, "layer1", "", b.layer())
	if err != nil {
		t.Fatal(err)
	}
	if l.CompressedDigest != b.digest || l.UncompressedDigest != b.diffID || l.UncompressedSize != int64(len(tarData)) {
		t.Errorf("layer record: compressed %s, uncompressed %s, size %d; want %s, %s, %d",
			l.CompressedDigest, l.UncompressedDigest, l.UncompressedSize, b.digest, b.diffID, len(tarData))
	}
	if got := diffBytes(t, s, "layer1"); !bytes.Equal(got, tarData) {
		t.Errorf("Diff of the staged layer differs from its tar (%d vs %d bytes)", len(got), len(tarData))
	}
}

// TestDigestMismatch stages layers whose blob digest or diff ID is not
// the expected one: ApplyDiff fails with ErrDigestMismatch, and after
// CleanupStagedLayer the store holds no layer and no staging directory.
func TestDigestMismatch(t *testing.T) {
	tarData := buildTar(t, file("etc/hostname", 0o644, "mismatch\n"))
	other := digest.FromString("something else")
	for _, tc := range []struct {
		name   string
		mutate func(*stagedlayer.Layer)
	}{
		{"blob digest", func(l *stagedlayer.Layer) { l.Digest = other }},
		{"diff ID", func(l *stagedlayer.Layer) { l.DiffID = other }},
		{"blob body", func(l *stagedlayer.Layer) {
			data, _ := io.ReadAll(l.Body)
			data[len(data)-5] ^= 0xff // inside the gzip trailer: the size field
			l.Body = bytes.NewReader(data)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOverlayStore(t)
			l := gzipBlob(t, tarData).layer()
			tc.mutate(&l)
			out, err := s.PrepareStagedLayer(nil, stagedlayer.NewDiffer(l))
			if tc.name == "blob body" {
				// gzip's own check may see it first; either way, no success.
				if err == nil {
					t.Fatal("PrepareStagedLayer succeeded on a corrupt blob")
				}
			} else if !errors.Is(err, stagedlayer.ErrDigestMismatch) {
				t.Errorf("PrepareStagedLayer: %v, want ErrDigestMismatch", err)
			}
			cleanupAndCheck(t, s, out)
		})
	}
}

// cleanupAndCheck ends a failed staging and checks that it left nothing.
func cleanupAndCheck(t testing.TB, s storage.Store, out *graphdriver.DriverWithDifferOutput) {
	t.Helper()
	if out == nil {
		t.Fatal("PrepareStagedLayer returned no output to clean up")
	}
	if out.TarSplit != nil {
		t.Error("a failed ApplyDiff returned a tar-split file")
	}
	if err := s.CleanupStagedLayer(out); err != nil {
		t.Errorf("CleanupStagedLayer: %v", err)
	}
	staging := filepath.Join(s.GraphRoot(), "overlay", "staging")
	if entries, err := os.ReadDir(staging); err == nil && len(entries) != 0 {
		t.Errorf("staging directories left: %d", len(entries))
	}
	assertNoLayers(t, s)
}

// TestDecompressionBomb stages a gzip layer of 64 MiB of zeros (64 KiB
// compressed) with MaxUncompressed 1 MiB: ApplyDiff stops with
// ErrTooLarge after reading a bounded part of the blob.
func TestDecompressionBomb(t *testing.T) {
	const huge = 64 << 20
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Size: huge, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, huge); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := gzipBlob(t, tarBuf.Bytes())
	s := newOverlayStore(t)
	l := b.layer()
	l.MaxUncompressed = 1 << 20
	body := &countingBody{r: l.Body}
	l.Body = body
	out, err := s.PrepareStagedLayer(nil, stagedlayer.NewDiffer(l))
	if !errors.Is(err, stagedlayer.ErrTooLarge) {
		t.Errorf("PrepareStagedLayer: %v, want ErrTooLarge", err)
	}
	if body.n == int64(len(b.data)) {
		t.Errorf("the whole %d-byte blob was read before giving up", body.n)
	}
	cleanupAndCheck(t, s, out)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countingBody counts the bytes the differ reads from a blob.
type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestProgressAndMediaTypes stages the same tar as gzip, zstd and
// uncompressed: each reports its whole size through Progress at the end,
// and an unknown media type is refused.
func TestProgressAndMediaTypes(t *testing.T) {
	tarData := buildTar(t, file("big", 0o644, strings.Repeat("x", 3<<20)))
	for i, name := range []string{"gzip", "zstd", "uncompressed"} {
		t.Run(name, func(t *testing.T) {
			s := newOverlayStore(t)
			l := corpusBlob(t, []int{0, 1, 2}[i], tarData).layer()
			var calls []int64
			l.Progress = func(n int64) { calls = append(calls, n) }
			if _, err := stageLayer(s, "layer", "", l); err != nil {
				t.Fatal(err)
			}
			if len(calls) < 2 || calls[len(calls)-1] != int64(len(tarData)) || !slices.IsSorted(calls) {
				t.Errorf("progress calls %v, want several, ascending, ending at %d", calls, len(tarData))
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		s := newOverlayStore(t)
		l := gzipBlob(t, tarData).layer()
		l.MediaType = "application/vnd.example.layer.v1.tar+lz4"
		out, err := s.PrepareStagedLayer(nil, stagedlayer.NewDiffer(l))
		if !errors.Is(err, stagedlayer.ErrUnsupportedMediaType) {
			t.Errorf("PrepareStagedLayer: %v, want ErrUnsupportedMediaType", err)
		}
		cleanupAndCheck(t, s, out)
	})
}
