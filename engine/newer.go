package engine

// Policy newer's check: is the registry's image the local one?

import (
	"context"
	"slices"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// remoteMatches reports whether the registry's image for src is the local
// image: first with a manifest HEAD (cheap; registries like Docker Hub do
// not count it against pull limits), then, when the digest differs and the
// manifest is a list, by the instance for the wanted platform.
func (st *pullState) remoteMatches(ctx context.Context, src types.ImageReference, loc *local) (bool, error) {
	sys := &st.sys
	d, err := docker.GetDigest(ctx, sys, src)
	switch {
	case err == nil && hasDigest(loc.image, d):
		return true, nil
	case err == nil && !st.e.fromList(loc.image):
		// The digest changed and the local image did not come through a
		// manifest list, so there is no instance to compare: copy. (Should
		// the tag have become a list whose instance we hold, the copy
		// reuses every blob.)
		return false, nil
	}
	top, err := st.fetchTopManifest(ctx, src)
	if err != nil {
		return false, err
	}
	if d, err = manifest.Digest(top.raw); err != nil {
		return false, err
	}
	if hasDigest(loc.image, d) {
		return true, nil
	}
	if top.list == nil {
		return false, nil
	}
	instance, err := top.list.ChooseInstance(sys)
	if err != nil {
		return false, err
	}
	return hasDigest(loc.image, instance), nil
}

func hasDigest(img *storage.Image, d digest.Digest) bool {
	return d != "" && (img.Digest == d || slices.Contains(img.Digests, d))
}
