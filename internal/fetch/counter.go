package fetch

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"go.podman.io/image/v5/pkg/compression"
)

// Counter bounds what the layers of one pull unpack to: each layer at most
// MaxLayer bytes, all of them together at most MaxImage (0: no bound). It
// counts by decompressing a copy of each layer's bytes as they pass (Open
// does that for a Blob with Layer set); a reader that decompresses anyway
// counts what it unpacks itself and fails with the same errors
// (LayerTooLarge, ImageTooLarge; the engine's fast path does). Past a
// bound, the layer's stream fails with an Unsupported error that is not
// retried. Safe for concurrent use.
type Counter struct {
	MaxLayer, MaxImage int64
	image              atomic.Int64 // bytes the pull's layers unpacked to
}

// NewCounter returns the Counter of one pull, or nil when there is no
// bound to check.
func NewCounter(maxLayer, maxImage int64) *Counter {
	if maxLayer <= 0 && maxImage <= 0 {
		return nil
	}
	return &Counter{MaxLayer: maxLayer, MaxImage: maxImage}
}

// Add counts n more unpacked bytes of layer d, whose running total is
// *layer, and says whether a bound is passed.
func (c *Counter) Add(d digest.Digest, layer *int64, n int64) error {
	*layer += n
	total := c.image.Add(n)
	if c.MaxLayer > 0 && *layer > c.MaxLayer {
		return LayerTooLarge(d, c.MaxLayer)
	}
	if c.MaxImage > 0 && total > c.MaxImage {
		return ImageTooLarge(c.MaxImage)
	}
	return nil
}

// LayerTooLarge is the refusal of layer d, which unpacks to more than max
// bytes: Unsupported, never retried.
func LayerTooLarge(d digest.Digest, max int64) error {
	return engineerr.Final(pullerrors.Errorf(pullerrors.Unsupported, "layer %s unpacks to more than the limit of %d bytes", d, max))
}

// ImageTooLarge is the refusal of an image whose layers unpack to more than
// max bytes: Unsupported, never retried.
func ImageTooLarge(max int64) error {
	return engineerr.Final(pullerrors.Errorf(pullerrors.Unsupported, "the image unpacks to more than the limit of %d bytes", max))
}

// wrap tees rc through a counter of what it unpacks to.
func (c *Counter) wrap(rc io.ReadCloser, d digest.Digest) io.ReadCloser {
	pr, pw := io.Pipe()
	u := &countedBlob{ReadCloser: rc, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		err := c.count(pr, d)
		if err != nil {
			u.err.Store(&err)
		}
		_ = pr.CloseWithError(err)
		_, _ = io.Copy(io.Discard, pr) // never block the tee
	}()
	return u
}

// count decompresses pr and checks the sizes as they grow.
func (c *Counter) count(pr io.Reader, d digest.Digest) error {
	dec, _, err := compression.AutoDecompress(pr)
	if err != nil {
		return nil // not a stream we can read; the consumer will say why
	}
	defer dec.Close()
	buf := make([]byte, 128<<10)
	var layer int64
	for {
		n, rerr := dec.Read(buf)
		if err := c.Add(d, &layer, int64(n)); err != nil {
			return err
		}
		if rerr != nil {
			return nil
		}
	}
}

// countedBlob is a tee: the blob's bytes go on unchanged, and through a
// decompressor that counts what they unpack to. Past a bound the next Read
// fails.
type countedBlob struct {
	io.ReadCloser
	pw   *io.PipeWriter
	done chan struct{}
	err  atomic.Pointer[error] // the verdict of the counter
}

// Read passes the blob's bytes on after the counter has seen them.
func (c *countedBlob) Read(p []byte) (int, error) {
	if e := c.err.Load(); e != nil {
		return 0, *e
	}
	n, err := c.ReadCloser.Read(p)
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

// Close stops the counter and closes the blob.
func (c *countedBlob) Close() error {
	_ = c.pw.CloseWithError(errors.New("blob closed"))
	<-c.done
	return c.ReadCloser.Close()
}
