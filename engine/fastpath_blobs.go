package engine

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/report"
	"go.podman.io/image/v5/types"
)

// blobOpener is the fast path's seam to the registry blob reader: open
// returns a layer blob's stream from its first byte, resumed from the
// partial an earlier attempt kept, bounded by the declared size, under the
// stall watchdog, reconnecting with ranged requests; classify turns the
// failure of a read into what it means (a bad kept partial makes any
// failure an Integrity one, as copyError does for copy.Image).
//
// Today it is the wrappedSource machinery copy.Image's source uses, over
// the fast path's own image source; it needs nothing else, so moving it to
// internal/fetch changes newBlobOpener only.
type blobOpener struct {
	open     func(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, error)
	classify func(err error) error
}

// newBlobOpener reads the blobs of src (a registry source of srcRef),
// reporting resumes and reconnections to rep.
func (e *Engine) newBlobOpener(rep *report.Reporter, srcRef types.ImageReference, src types.ImageSource, sys *types.SystemContext) blobOpener {
	ref := &wrappedRef{ImageReference: srcRef, e: e, rep: rep, registry: true}
	ws := &wrappedSource{ImageSource: src, ref: ref, sys: sys, layers: map[digest.Digest]bool{}}
	return blobOpener{
		open: func(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, error) {
			rc, _, err := ws.open(ctx, info, cache)
			return rc, err
		},
		classify: func(err error) error { return copyError(ref, err) },
	}
}
