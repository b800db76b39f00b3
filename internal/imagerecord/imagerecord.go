// Package imagerecord writes the record of a pulled image into a
// containers-storage store exactly as containers/image's storage
// destination does when copy.Image commits (go.podman.io/image/v5
// storage/storage_dest.go, CommitWithOptions, as of v5.41):
//
//   - the image ID is the config digest's hex (Record.ID);
//   - big-data items, in this order: the config under its digest; the
//     top-level manifest (a list) under "manifest-<digest>" when it differs
//     from the image's manifest; the manifest under "manifest-<digest>"
//     and under "manifest"; the signatures, when there are any, under
//     "signatures" and "signature-<manifest hex>";
//   - the metadata: the JSON of the signature sizes ("{}" without
//     signatures);
//   - the creation date from the config;
//   - the name last, once everything else is stored, so a failure never
//     leaves a half-written image under the name.
//
// An image with the same ID already in the store keeps its record and gets
// the big-data items and metadata set again, as containers/image does; one
// with another top layer is an error. Unlike containers/image, a failure
// deletes the image only when this call created it: a good local image is
// never removed.
package imagerecord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/storage"
)

// Record is what Write stores.
type Record struct {
	// ID is the image ID: the config digest's hex for schema2 and OCI.
	ID string
	// TopLayer is the ID of the image's top layer ("" for none).
	TopLayer string
	// Name is the name to put on the image last ("" for none), e.g.
	// "registry.example/app:v1" or "registry.example/app@sha256:...".
	Name string
	// Manifest is the image's manifest as pulled, ManifestDigest its digest.
	Manifest       []byte
	ManifestDigest digest.Digest
	// TopLevel is the top-level manifest (a manifest list) when the image
	// was chosen from one; nil or equal to Manifest otherwise.
	TopLevel []byte
	// Config is the config blob, ConfigDigest its digest.
	Config       []byte
	ConfigDigest digest.Digest
	// Signatures are the image's signatures in containers/image's blob
	// form (simple signing: the signature bytes as they are).
	Signatures [][]byte
	// Created is the creation date the config declares; zero: now.
	Created time.Time
}

// metadata is containers/image's storageImageMetadata: the JSON stored as
// the image's Metadata.
type metadata struct {
	SignatureSizes  []int                   `json:"signature-sizes,omitempty"`
	SignaturesSizes map[digest.Digest][]int `json:"signatures-sizes,omitempty"`
}

// Write stores r's image in store and returns it. See the package comment.
func Write(store storage.Store, r Record) (*storage.Image, error) {
	opts, err := r.options()
	if err != nil {
		return nil, err
	}
	img, created, err := createOrUpdate(store, r, opts)
	if err != nil {
		return nil, err
	}
	if r.Name != "" {
		if err := store.AddNames(img.ID, []string{r.Name}); err != nil {
			if created {
				_, _ = store.DeleteImage(img.ID, true)
			}
			return nil, fmt.Errorf("adding name %s to image %s: %w", r.Name, img.ID, err)
		}
	}
	return store.Image(img.ID)
}

// createOrUpdate creates the image, or sets the big data and metadata of
// the image of that ID already stored; created says which.
func createOrUpdate(store storage.Store, r Record, opts *storage.ImageOptions) (*storage.Image, bool, error) {
	img, err := store.CreateImage(r.ID, nil, r.TopLayer, "", opts)
	if err == nil {
		return img, true, nil
	}
	if !errors.Is(err, storage.ErrDuplicateID) {
		return nil, false, fmt.Errorf("creating image %s: %w", r.ID, err)
	}
	img, err = store.Image(r.ID)
	if err != nil {
		return nil, false, fmt.Errorf("reading image %s: %w", r.ID, err)
	}
	if img.TopLayer != r.TopLayer {
		return nil, false, fmt.Errorf("image with ID %q already exists, but uses a different top layer: %w", r.ID, storage.ErrDuplicateID)
	}
	for _, item := range opts.BigData {
		if err := store.SetImageBigData(img.ID, item.Key, item.Data, manifest.Digest); err != nil {
			return nil, false, fmt.Errorf("saving big data %q for image %s: %w", item.Key, img.ID, err)
		}
	}
	if err := store.SetMetadata(img.ID, opts.Metadata); err != nil {
		return nil, false, fmt.Errorf("saving metadata for image %s: %w", img.ID, err)
	}
	return img, false, nil
}

// options builds CreateImage's options: the big data in containers/image's
// order (which decides the image's Digest) and the metadata.
func (r Record) options() (*storage.ImageOptions, error) {
	if err := r.ManifestDigest.Validate(); err != nil {
		return nil, fmt.Errorf("manifest digest: %w", err)
	}
	opts := &storage.ImageOptions{CreationDate: r.Created}
	add := func(key string, data []byte, d digest.Digest) {
		opts.BigData = append(opts.BigData, storage.ImageBigDataOption{Key: key, Data: data, Digest: d})
	}
	if r.ConfigDigest != "" {
		add(r.ConfigDigest.String(), r.Config, digest.Canonical.FromBytes(r.Config))
	}
	if len(r.TopLevel) > 0 && !bytes.Equal(r.TopLevel, r.Manifest) {
		d, err := manifest.Digest(r.TopLevel)
		if err != nil {
			return nil, fmt.Errorf("digesting the top-level manifest: %w", err)
		}
		add(manifestKey(d), r.TopLevel, d)
	}
	add(manifestKey(r.ManifestDigest), r.Manifest, r.ManifestDigest)
	add(storage.ImageDigestBigDataKey, r.Manifest, r.ManifestDigest)
	md := metadata{SignatureSizes: []int{}, SignaturesSizes: map[digest.Digest][]int{}}
	if len(r.Signatures) > 0 {
		var blob []byte
		for _, sig := range r.Signatures {
			md.SignatureSizes = append(md.SignatureSizes, len(sig))
			blob = append(blob, sig...)
		}
		md.SignaturesSizes[r.ManifestDigest] = md.SignatureSizes
		d := digest.Canonical.FromBytes(blob)
		add("signatures", blob, d)
		add("signature-"+r.ManifestDigest.Encoded(), blob, d)
	}
	raw, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("encoding image metadata: %w", err)
	}
	opts.Metadata = string(raw)
	return opts, nil
}

// manifestKey is the big-data key of the manifest with digest d.
func manifestKey(d digest.Digest) string {
	return storage.ImageDigestManifestBigDataNamePrefix + "-" + d.String()
}
