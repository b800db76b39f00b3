package stagedlayer_test

import (
	"bytes"
	"testing"
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
