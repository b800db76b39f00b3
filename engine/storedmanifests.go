package engine

// What the store keeps of the manifests an image was pulled through.

import (
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/storage"
)

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
