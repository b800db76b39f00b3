package engine

import (
	"context"
	"fmt"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// Annotations naming an image in an OCI index: containerd's (BuildKit
// writes the full name there) wins over the OCI ref name.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// pullTransport copies from a non-registry source. Sources are local files,
// layouts, stores or a daemon, so the policy does not gate the copy: it
// always runs, and reuses layers already stored.
func (e *Engine) pullTransport(ctx context.Context, sys *sysContext, in input, p policy.Policy, o *PullOptions) (*Result, error) {
	src := in.transportRef
	res := &Result{Policy: p, Reference: transports.ImageName(src)}
	names, err := e.storageNames(ctx, &sys.SystemContext, src)
	if err != nil {
		return res, err
	}
	dest := "@" // replaced below
	if len(names) > 0 {
		dest = names[0]
	} else {
		id, err := configID(ctx, &sys.SystemContext, src)
		if err != nil {
			return res, err
		}
		dest += id
	}
	img, pulled, err := e.copyToStore(ctx, sys, src, dest, o)
	if err != nil {
		return res, err
	}
	if len(names) > 1 {
		// One copy serves every name (docker-archive RepoTags): the image
		// is the same, so the other names are added to it.
		if err := e.store.AddNames(img.ID, names[1:]); err != nil {
			return res, fmt.Errorf("naming image %s: %w", img.ID, pullerrors.Wrap(pullerrors.Storage, err))
		}
		if img, err = e.store.Image(img.ID); err != nil {
			return res, fmt.Errorf("reading image %s: %w", img.ID, pullerrors.Wrap(pullerrors.Storage, err))
		}
	}
	res.Outcome = Pulled
	desc := e.describe(ctx, &sys.SystemContext, img, pulled)
	res.Images = []Image{desc}
	res.Warnings = append(res.Warnings, platformWarnings(sys, desc)...)
	return res, nil
}

// storageNames returns the names the image from src is stored under, per
// transport (design.md's table). None means "by ID".
func (e *Engine) storageNames(ctx context.Context, sys *types.SystemContext, src types.ImageReference) ([]string, error) {
	within := src.StringWithinTransport()
	switch src.Transport().Name() {
	case "docker-archive":
		return dockerArchiveNames(sys, src)
	case "oci-archive":
		desc, err := ociarchive.LoadManifestDescriptorWithContext(sys, src)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", transports.ImageName(src), err)
		}
		name := desc.Annotations[annotationContainerdName]
		if name == "" {
			name = desc.Annotations[annotationRefName]
		}
		return normalizedNames(name)
	case "oci":
		// "path:ref": a ref that is a valid name is normalized like an
		// oci-archive name (Podman stores oci:dir:pretty as
		// docker.io/library/pretty; we store localhost/pretty, like every
		// other local source). Other refs ("v1.0", "latest") are not names.
		_, ref, _ := strings.Cut(within, ":")
		if named, err := normalizeName(ref); err == nil && ref != "" && strings.ContainsAny(ref, "/:") {
			return []string{named.String()}, nil
		}
		return nil, nil
	case "docker-daemon":
		named, err := reference.ParseNormalizedNamed(within)
		if err != nil {
			return nil, nil // an ID reference: stored by ID
		}
		return []string{reference.TagNameOnly(named).String()}, nil
	case "containers-storage":
		if named := src.DockerReference(); named != nil {
			return []string{named.String()}, nil
		}
		return nil, nil
	default:
		// dir:, sif:, tarball: and other paths may hold characters that
		// are invalid in names: stored by ID.
		return nil, nil
	}
}

func normalizedNames(name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	named, err := normalizeName(name)
	if err != nil {
		return nil, pullerrors.Wrap(pullerrors.InvalidReference, err)
	}
	return []string{named.String()}, nil
}

// dockerArchiveNames are the RepoTags of the chosen archive item,
// normalized. An archive with several images needs path:@N or path:name.
func dockerArchiveNames(sys *types.SystemContext, src types.ImageReference) ([]string, error) {
	reader, readerRef, err := dockerarchive.NewReaderForReference(sys, src)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", transports.ImageName(src), err)
	}
	defer reader.Close()
	tags, err := reader.ManifestTagsForReference(readerRef)
	if err != nil {
		return nil, fmt.Errorf("reading %s (an archive of several images needs :@N or :name to choose one): %w", transports.ImageName(src), pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	var names []string
	for _, tag := range tags {
		named, err := normalizeName(tag)
		if err != nil {
			return nil, pullerrors.Wrap(pullerrors.InvalidReference, err)
		}
		names = append(names, named.String())
	}
	return names, nil
}

// configID is the ID an unnamed image gets: its config digest's hex.
func configID(ctx context.Context, sys *types.SystemContext, src types.ImageReference) (string, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", transports.ImageName(src), err)
	}
	defer img.Close()
	return img.ConfigInfo().Digest.Encoded(), nil
}
