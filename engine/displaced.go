package engine

import (
	"context"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/storage"
)

// nameHolder is the image that holds named in the store now, or nil.
func (e *Engine) nameHolder(named reference.Named) *storage.Image {
	img, err := e.store.Image(named.String())
	if err != nil {
		return nil
	}
	return img
}

// keepDisplaced keeps an image of another platform addressable when a
// platform pull moves its tag away. A tag names one image in a store, so
// pulling alpine for arm64 after amd64 makes alpine:latest the arm64 image
// (as in Podman); without this, the amd64 image would keep no name at all.
// It gets repo@<its manifest digest>, the name a user copies from a
// registry or from `podman images --digests`.
func (st *pullState) keepDisplaced(ctx context.Context, before, after *storage.Image, named reference.Named) {
	e := st.e
	if before == nil || after == nil || before.ID == after.ID {
		return
	}
	cur, err := e.store.Image(before.ID)
	if err != nil || hasRepoName(cur, named) {
		return
	}
	d := e.instanceDigest(cur)
	if d == "" {
		return
	}
	digested, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return
	}
	if err := e.store.AddNames(before.ID, []string{digested.String()}); err != nil {
		e.log.WarnContext(ctx, "could not keep the displaced image addressable", "image", before.ID, "err", err)
		return
	}
	st.warn("%s now names the %s image; the image it named before (%s) stays available as %s",
		named, st.expected, before.ID, digested)
}

// hasRepoName reports whether img still has a name in named's repository.
func hasRepoName(img *storage.Image, named reference.Named) bool {
	for _, n := range img.Names {
		if other, err := reference.ParseNormalizedNamed(n); err == nil && other.Name() == named.Name() {
			return true
		}
	}
	return false
}
