package stagedlayer

import (
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrUnsupportedMediaType is wrapped by ApplyDiff's error for a layer
// media type that is neither gzip, zstd nor an uncompressed tar.
var ErrUnsupportedMediaType = fmt.Errorf("unsupported layer media type")

// Docker schema2 layer media types (OCI's are in image-spec).
const (
	dockerLayerGzip              = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayerForeignGzip       = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	dockerLayerUncompressed      = "application/vnd.docker.image.rootfs.diff.tar"
	ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" //nolint:gosec // a media type
	ociLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	ociLayerNondistributableTar  = "application/vnd.oci.image.layer.nondistributable.v1.tar"
)

// Supported reports whether NewDiffer's ApplyDiff reads layers of mediaType.
func Supported(mediaType string) bool {
	_, err := decompressor(mediaType)
	return err == nil
}

// decompress returns the tar stream of blob, a layer of mediaType.
func decompress(mediaType string, blob io.Reader) (io.ReadCloser, error) {
	open, err := decompressor(mediaType)
	if err != nil {
		return nil, err
	}
	return open(blob)
}

// decompressor picks the reader for mediaType.
func decompressor(mediaType string) (func(io.Reader) (io.ReadCloser, error), error) {
	switch {
	case slices.Contains([]string{imgspecv1.MediaTypeImageLayerGzip, dockerLayerGzip, dockerLayerForeignGzip, ociLayerNondistributableGzip}, mediaType):
		return func(r io.Reader) (io.ReadCloser, error) {
			zr, err := pgzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("reading gzip layer: %w", err)
			}
			return zr, nil
		}, nil
	case slices.Contains([]string{imgspecv1.MediaTypeImageLayerZstd, ociLayerNondistributableZstd}, mediaType):
		return func(r io.Reader) (io.ReadCloser, error) {
			zr, err := zstd.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("reading zstd layer: %w", err)
			}
			return zr.IOReadCloser(), nil
		}, nil
	case slices.Contains([]string{imgspecv1.MediaTypeImageLayer, dockerLayerUncompressed, ociLayerNondistributableTar}, mediaType):
		return func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil }, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedMediaType, mediaType)
}

// progressStep is how many uncompressed bytes pass between Progress calls.
const progressStep = 1 << 20

// countingReader counts the tar's bytes, enforces the size bound and
// reports progress.
type countingReader struct {
	r          io.Reader
	n          int64
	max        int64
	progress   func(int64)
	reportedAt int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.max > 0 && int64(len(p)) > c.max-c.n+1 {
		p = p[:c.max-c.n+1] // read one byte past the bound to see it crossed
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		return n, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
	}
	if c.progress != nil && c.n-c.reportedAt >= progressStep {
		c.report()
	}
	return n, err
}

// report calls progress with the count so far.
func (c *countingReader) report() {
	if c.progress != nil {
		c.reportedAt = c.n
		c.progress(c.n)
	}
}
