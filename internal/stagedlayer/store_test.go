package stagedlayer_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/internal/stagedlayer"
	"go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/idtools"
	storagetypes "go.podman.io/storage/types"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// newOverlayStore opens an overlay store in a temp dir, or skips where
// the kernel does not mount overlay for this process.
func newOverlayStore(t testing.TB) storage.Store { return newOverlayStoreMapped(t, nil) }

// newOverlayStoreMapped is newOverlayStore with idMap as the store's UID
// and GID map.
func newOverlayStoreMapped(t testing.TB, idMap []idtools.IDMap) storage.Store {
	t.Helper()
	if d, reason := enginetest.DefaultDriver(); d != "overlay" {
		t.Skipf("overlay unavailable: %s", reason)
	}
	dir := t.TempDir()
	s, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot:       filepath.Join(dir, "root"),
		RunRoot:         filepath.Join(dir, "run"),
		GraphDriverName: "overlay",
		UIDMap:          idMap,
		GIDMap:          idMap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.Shutdown(true) })
	return s
}

// blob is a layer as a registry serves it.
type blob struct {
	data      []byte
	mediaType string
	digest    digest.Digest
	diffID    digest.Digest
}

// gzipBlob compresses a tar as a gzip layer.
func gzipBlob(t testing.TB, tarData []byte) blob {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(tarData); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return blob{data: buf.Bytes(), mediaType: imgspecv1.MediaTypeImageLayerGzip,
		digest: digest.FromBytes(buf.Bytes()), diffID: digest.FromBytes(tarData)}
}

// layer is the stagedlayer.Layer of b.
func (b blob) layer() stagedlayer.Layer {
	return stagedlayer.Layer{Body: bytes.NewReader(b.data), Digest: b.digest, DiffID: b.diffID, MediaType: b.mediaType}
}

// putLayer applies b through storage's own PutLayer (the overlay driver's
// ApplyDiff) as layer id on parent.
func putLayer(t testing.TB, s storage.Store, id, parent string, b blob) *storage.Layer {
	t.Helper()
	size := int64(len(b.data))
	l, _, err := s.PutLayer(id, parent, nil, "", false, &storage.LayerOptions{
		OriginalDigest: b.digest, OriginalSize: &size, UncompressedDigest: b.diffID,
	}, bytes.NewReader(b.data))
	if err != nil {
		t.Fatalf("PutLayer %s: %v", id, err)
	}
	return l
}

// stageLayer applies l through the staged-layer API with our differ, as
// layer id on parent; on error it cleans up the staging directory.
func stageLayer(s storage.Store, id, parent string, l stagedlayer.Layer) (*storage.Layer, error) {
	return stageLayerMapped(s, id, parent, l, nil)
}

// stageLayerMapped is stageLayer in a store with idMap as its ID maps,
// which PrepareStagedLayer must be told.
func stageLayerMapped(s storage.Store, id, parent string, l stagedlayer.Layer, idMap []idtools.IDMap) (*storage.Layer, error) {
	var opts *graphdriver.ApplyDiffWithDifferOpts
	if idMap != nil {
		opts = &graphdriver.ApplyDiffWithDifferOpts{ApplyDiffOpts: graphdriver.ApplyDiffOpts{Mappings: idtools.NewIDMappingsFromMaps(idMap, idMap)}}
	}
	out, err := s.PrepareStagedLayer(opts, stagedlayer.NewDiffer(l))
	if err != nil {
		if out != nil {
			err = errors.Join(err, s.CleanupStagedLayer(out))
		}
		return nil, err
	}
	layer, err := s.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: id, ParentLayer: parent, DiffOutput: out, DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		return nil, errors.Join(err, s.CleanupStagedLayer(out))
	}
	return layer, nil
}

// diffBytes is storage's Diff of layer id, uncompressed.
func diffBytes(t testing.TB, s storage.Store, id string) []byte {
	t.Helper()
	rc, err := s.Diff("", id, nil)
	if err != nil {
		t.Fatalf("Diff %s: %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Diff %s: %v", id, err)
	}
	return data
}
