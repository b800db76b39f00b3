package engine

import (
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/fetch"
	"go.podman.io/image/v5/manifest"
)

// Limits bound the images a pull accepts, so that a daemon can refuse a
// decompression bomb (a few MiB of gzip that unpack to many GiB, stored
// once per layer by vfs) or an image of thousands of layers. Every field's
// zero value means no limit, which is the default. MaxImageSize also bounds
// what an oci-archive source may unpack to. A pull past a limit fails
// with an Unsupported error that is not retried, and stores nothing of the
// image.
type Limits struct {
	// MaxLayers is the largest number of layers an image may have. It is
	// checked from the manifest, before any layer is fetched.
	MaxLayers int
	// MaxLayerSize is the largest uncompressed size of one layer, in bytes.
	// Counting it costs one more decompression of every layer fetched, so
	// it is done only when this or MaxImageSize is set.
	MaxLayerSize int64
	// MaxImageSize is the largest sum of the uncompressed sizes of the
	// layers one pull fetches (layers already stored are not counted).
	MaxImageSize int64
}

// countsBytes reports whether layers must be decompressed to be counted.
func (l Limits) countsBytes() bool { return l.MaxLayerSize > 0 || l.MaxImageSize > 0 }

// extractSlack is what an archive may hold beside its layers (manifests,
// configs, index) when MaxImageSize bounds its extraction.
const extractSlack = 64 << 20

// maxExtract bounds what extracting a local archive may write: the image
// size limit plus extractSlack (an archive's layers are stored compressed,
// so never larger than they unpack to, give or take the tar framing); zero
// without MaxImageSize.
func (l Limits) maxExtract() int64 {
	if l.MaxImageSize <= 0 {
		return 0
	}
	return l.MaxImageSize + extractSlack
}

// counter is the Counter of one source's layers, nil without byte limits.
func (l Limits) counter() *fetch.Counter { return fetch.NewCounter(l.MaxLayerSize, l.MaxImageSize) }

// set reports whether any limit is set.
func (l Limits) set() bool { return l.MaxLayers > 0 || l.countsBytes() }

// limitError is a limit refusal: Unsupported, never retried.
func limitError(format string, args ...any) error {
	return engineerr.Final(pullerrors.Errorf(pullerrors.Unsupported, format, args...))
}

// checkManifest refuses an image manifest with more than MaxLayers
// layers; lists pass (their instances are checked when fetched). It also
// returns the manifest's layer digests, nil for a list.
func (l Limits) checkManifest(raw []byte, mime string) (layers []string, err error) {
	if mime == "" {
		mime = manifest.GuessMIMEType(raw)
	}
	if manifest.MIMETypeIsMultiImage(mime) {
		return nil, nil
	}
	m, err := manifest.FromBlob(raw, mime)
	if err != nil {
		return nil, nil // not ours to judge: c/image reports it
	}
	infos := m.LayerInfos()
	if l.MaxLayers > 0 && len(infos) > l.MaxLayers {
		return nil, limitError("the image has %d layers, more than the limit of %d", len(infos), l.MaxLayers)
	}
	for _, li := range infos {
		layers = append(layers, li.Digest.String())
	}
	return layers, nil
}
