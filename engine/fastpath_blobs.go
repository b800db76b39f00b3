package engine

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/fetch"
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

// newBlobOpener reads the blobs of src (a registry source of srcRef),
// reporting resumes and reconnections to rep. Unlike copy.Image's wrapped
// source it counts nothing for Limits: the differ bounds what a layer
// unpacks to in its one decompression (fastLimits).
func (t *transferSpec) newBlobOpener(rep *report.Reporter, srcRef types.ImageReference, src types.ImageSource) blobOpener {
	e := t.e
	ref := &wrappedRef{ImageReference: srcRef, e: e, rep: rep, registry: true}
	ws := &wrappedSource{ImageSource: src, ref: ref, sys: &t.sys, layers: map[digest.Digest]bool{}} // for its ranged clients
	return blobOpener{
		open: func(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, error) {
			whole := func(ctx context.Context, _ int64) (*fetch.Body, error) {
				rc, size, err := src.GetBlob(ctx, info, cache)
				if err != nil {
					return nil, err
				}
				return &fetch.Body{ReadCloser: rc, Length: size}, nil
			}
			rc, _, err := fetch.Open(ctx, fetch.Blob{
				Digest: info.Digest, Size: info.Size, Layer: true,
				Open: fetch.Ranged(ws.rangeClients, info.Digest, info.Size, whole, e.log),
			}, e.fetchConfig(rep, &ref.suspect))
			return rc, err
		},
		classify: func(err error) error { return copyError(ref, err) },
	}
}
