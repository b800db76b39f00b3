package engine

import (
	"fmt"
	"io"
	"sync/atomic"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/compression"
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

// set reports whether any limit is set.
func (l Limits) set() bool { return l.MaxLayers > 0 || l.countsBytes() }

// limitError is a limit refusal: Unsupported, never retried.
func limitError(format string, args ...any) error {
	return pullerrors.Final(pullerrors.Errorf(pullerrors.Unsupported, format, args...))
}

// checkLayerCount refuses an image manifest with more than MaxLayers
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

// uncompressedCounter is a tee: the blob's bytes go on to c/image
// unchanged, and through a decompressor that counts what they unpack to.
// Past a limit the next Read fails.
type uncompressedCounter struct {
	r     io.Reader
	pw    *io.PipeWriter
	done  chan struct{}
	err   atomic.Pointer[error] // the verdict of the counter
	layer int64                 // bytes this layer unpacked to
}

// countUncompressed wraps r; image is the pull's running total.
func (l Limits) countUncompressed(r io.Reader, d string, image *atomic.Int64) *uncompressedCounter {
	pr, pw := io.Pipe()
	c := &uncompressedCounter{r: r, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		err := l.count(pr, d, image, &c.layer)
		if err != nil {
			c.err.Store(&err)
		}
		_ = pr.CloseWithError(err)
		_, _ = io.Copy(io.Discard, pr) // never block the tee
	}()
	return c
}

// count decompresses pr and checks the sizes as they grow.
func (l Limits) count(pr io.Reader, d string, image *atomic.Int64, layer *int64) error {
	dec, _, err := compression.AutoDecompress(pr)
	if err != nil {
		return nil // not a stream we can read; c/image will say why
	}
	defer dec.Close()
	buf := make([]byte, 128<<10)
	for {
		n, rerr := dec.Read(buf)
		*layer += int64(n)
		total := image.Add(int64(n))
		if l.MaxLayerSize > 0 && *layer > l.MaxLayerSize {
			return limitError("layer %s unpacks to more than the limit of %d bytes", d, l.MaxLayerSize)
		}
		if l.MaxImageSize > 0 && total > l.MaxImageSize {
			return limitError("the image unpacks to more than the limit of %d bytes", l.MaxImageSize)
		}
		if rerr != nil {
			return nil
		}
	}
}

// Read passes the blob's bytes on after the counter has seen them.
func (c *uncompressedCounter) Read(p []byte) (int, error) {
	if e := c.err.Load(); e != nil {
		return 0, *e
	}
	n, err := c.r.Read(p)
	if n > 0 {
		if _, werr := c.pw.Write(p[:n]); werr != nil {
			if e := c.err.Load(); e != nil {
				return 0, *e
			}
		}
	}
	if err == io.EOF {
		_ = c.pw.Close()
		<-c.done
		if e := c.err.Load(); e != nil {
			return 0, *e
		}
	}
	return n, err
}

// stop ends the counter (the blob is closed early).
func (c *uncompressedCounter) stop() {
	_ = c.pw.CloseWithError(fmt.Errorf("blob closed"))
	<-c.done
}
