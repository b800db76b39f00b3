package engine

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/report"
	"go.podman.io/image/v5/types"
)

// blobOpener is how the fast path reads a layer blob: open returns the
// blob's stream from its first byte through internal/fetch (resumed from
// the partial an earlier attempt kept, bounded by the declared size, under
// the stall watchdog, reconnecting with ranged requests to the registries
// containers/image pulls the name from); classify turns the failure of a
// read into what it means (a bad kept partial makes any failure an
// Integrity one, as copyError does for copy.Image).
type blobOpener struct {
	open     func(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, error)
	classify func(err error) error
}

// newBlobOpener reads the blobs of src (a registry source of srcRef)
// through the wrapped source copy.Image reads them with, reporting resumes
// and reconnections to rep. It counts nothing for Limits (no counter): the
// differ bounds what a layer unpacks to in its one decompression
// (fastLimits).
func (t *transferSpec) newBlobOpener(rep *report.Reporter, srcRef types.ImageReference, src types.ImageSource) blobOpener {
	ref := &wrappedRef{probedRef: probedRef{ImageReference: srcRef}, e: t.e, rep: rep, registry: true}
	ws := &wrappedSource{ImageSource: src, ref: ref, sys: &t.sys, layers: map[digest.Digest]bool{}} // no Limits counter
	return blobOpener{
		open: func(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, error) {
			rc, _, err := ws.GetBlob(ctx, info, cache)
			return rc, err
		},
		classify: func(err error) error { return copyError(ref, err) },
	}
}
