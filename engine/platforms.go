package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// platformNotFound rewrites c/image's "no image found in manifest list"
// into an error that says which platforms the list offers, so the user sees
// at once whether a typo or a missing build is to blame. It costs one more
// manifest GET, on the failure path only.
func (e *Engine) platformNotFound(ctx context.Context, sys *types.SystemContext, src types.ImageReference, want platform.Platform, cause error) error {
	offered, err := listPlatforms(ctx, sys, src)
	if err != nil || len(offered) == 0 {
		return cause
	}
	return fmt.Errorf("%s has no image for %s; its manifest list offers %s: %w",
		describeRef(src), want, strings.Join(offered, ", "), pullerrors.Wrap(pullerrors.PlatformNotFound, cause))
}

// listPlatforms returns the platforms of the manifest list src names.
func listPlatforms(ctx context.Context, sys *types.SystemContext, src types.ImageReference) ([]string, error) {
	raw, mime, err := fetchManifest(ctx, sys, src)
	if err != nil {
		return nil, err
	}
	if !manifest.MIMETypeIsMultiImage(mime) {
		return nil, nil
	}
	list, err := manifest.ListFromBlob(raw, mime)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range list.Instances() {
		info, err := list.Instance(d)
		if err != nil || info.ReadOnly.Platform == nil {
			continue
		}
		p := info.ReadOnly.Platform
		out = append(out, platform.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}.String())
	}
	return out, nil
}

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

// fromList reports whether the store keeps a manifest list for img, i.e.
// img was pulled through a list.
func (e *Engine) fromList(img *storage.Image) bool {
	_, list := e.storedManifests(img)
	return list
}

// instanceDigest is the digest of the image's own manifest: of the digests
// a store records for an image pulled through a list (the list's and the
// instance's), the one whose manifest is not a list.
func (e *Engine) instanceDigest(img *storage.Image) digest.Digest {
	instance, _ := e.storedManifests(img)
	return instance
}

// storedManifests reads the manifests the store keeps for img: the digest
// of the first that is an image's own, and whether one is a list.
func (e *Engine) storedManifests(img *storage.Image) (instance digest.Digest, fromList bool) {
	for _, d := range img.Digests {
		raw, err := e.store.ImageBigData(img.ID, manifestKey(d))
		if err != nil {
			continue
		}
		if manifest.MIMETypeIsMultiImage(manifest.GuessMIMEType(raw)) {
			fromList = true
		} else if instance == "" {
			instance = d
		}
	}
	return instance, fromList
}

// manifestKey is the big-data key under which a store keeps the manifest
// with digest d.
func manifestKey(d digest.Digest) string {
	return storage.ImageDigestManifestBigDataNamePrefix + "-" + d.String()
}
