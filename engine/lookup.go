package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// local is an image found in the store for the input.
type local struct {
	image *storage.Image
	// name is the name it was found under ("" when found by ID).
	name string
	// byID: the input named the image by (a prefix of) its ID.
	byID bool
	// corrupted is why the image cannot be read, or nil.
	corrupted error
	// platform is what the image's config declares (zero if unreadable).
	platform platform.Platform
}

// reference names the image as the Result reports it: the name it was
// found under, else its ID.
func (l *local) reference() string {
	if l.name != "" {
		return l.name
	}
	return l.image.ID
}

var shortID = regexp.MustCompile(`^[a-f0-9]{3,63}$`)

// lookupLocal finds the local image a registry pull would produce or reuse.
// pinned, when non-nil, skips images whose config declares another platform.
// Not finding one is (nil, nil); other errors are the store's.
func (e *Engine) lookupLocal(ctx context.Context, sys *types.SystemContext, in input, pinned *platform.Platform) (*local, error) {
	if in.id != "" {
		return e.lookupID(ctx, sys, in.id)
	}
	names, err := localCandidates(sys, in)
	if err != nil {
		return nil, err
	}
	for _, named := range names {
		l, err := e.lookupName(ctx, sys, named, pinned)
		if err != nil {
			return nil, err
		}
		if !fits(l, pinned) {
			continue
		}
		return l, nil
	}
	// A short ID ("ec9293436c2e") names a local image only if no name did.
	if shortID.MatchString(in.name) {
		if l, err := e.lookupID(ctx, sys, in.name); l != nil || err != nil {
			return l, err
		}
	}
	if in.qualified {
		return nil, nil
	}
	return e.lookupRepoSuffix(ctx, sys, in.name, pinned)
}

// fits reports whether a found image may be used for a pull that pins
// the platform pinned (nil: none): a corrupted image fits (the pull repairs
// it), a healthy one must declare that platform.
func fits(l *local, pinned *platform.Platform) bool {
	return l != nil && (pinned == nil || l.corrupted != nil || platform.Only(*pinned).Match(l.platform))
}

// localCandidates lists the names under which the input may be stored: for
// a short name the alias, localhost/ and the unqualified-search registries;
// otherwise the name itself (":latest" added).
func localCandidates(sys *types.SystemContext, in input) ([]reference.Named, error) {
	if in.qualified {
		named, err := in.qualifiedName()
		if err != nil {
			return nil, err
		}
		return []reference.Named{named}, nil
	}
	names, err := shortnames.ResolveLocally(sys, in.name)
	if err != nil {
		return nil, fmt.Errorf("resolving %q locally: %w", in.raw, pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	// Podman also finds "ns/x" stored as docker.io/ns/x when docker.io is
	// not a search registry; keep that.
	if named, err := reference.ParseNormalizedNamed(in.name); err == nil {
		names = append(names, reference.TagNameOnly(named))
	}
	return names, nil
}

func (e *Engine) lookupName(ctx context.Context, sys *types.SystemContext, named reference.Named, pinned *platform.Platform) (*local, error) {
	ref, err := istorage.Transport.ParseStoreReference(e.store, named.String())
	if err != nil {
		return nil, invalidReference(named.String(), err)
	}
	_, img, err := istorage.ResolveReference(ref)
	if errors.Is(err, istorage.ErrNoSuchImage) || errors.Is(err, storage.ErrImageUnknown) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", named, pullerrors.Wrap(pullerrors.Storage, err))
	}
	l := &local{image: img, name: named.String()}
	if e.inspect(ctx, sys, l) {
		return e.listInstance(ctx, sys, l, pinned)
	}
	return l, nil
}

// listInstance turns a manifest list found under a name into the stored
// instance for the pinned platform (the host's if none), as Podman does
// with its local manifest lists. No stored instance: not found. A stored
// list that cannot be read or parsed is not found either (the pull fetches
// it again), and the reason is logged, so that a damaged store is seen.
func (e *Engine) listInstance(ctx context.Context, sys *types.SystemContext, list *local, pinned *platform.Platform) (*local, error) {
	raw, err := e.store.ImageBigData(list.image.ID, storage.ImageDigestBigDataKey)
	if err != nil {
		e.log.WarnContext(ctx, "cannot read the stored manifest list; treating the image as not stored", "image", list.image.ID, "name", list.name, "err", err)
		return nil, nil
	}
	ml, err := manifest.ListFromBlob(raw, manifest.GuessMIMEType(raw))
	if err != nil {
		e.log.WarnContext(ctx, "cannot parse the stored manifest list; treating the image as not stored", "image", list.image.ID, "name", list.name, "err", err)
		return nil, nil
	}
	choice := *sys
	if pinned != nil {
		choice.OSChoice, choice.ArchitectureChoice, choice.VariantChoice = pinned.OS, pinned.Architecture, pinned.Variant
	}
	d, err := ml.ChooseInstance(&choice)
	if err != nil {
		return nil, nil
	}
	imgs, err := e.store.ImagesByDigest(d)
	if err != nil || len(imgs) == 0 {
		return nil, nil
	}
	l := &local{image: imgs[0], name: list.name}
	e.inspect(ctx, sys, l)
	return l, nil
}

func (e *Engine) lookupID(ctx context.Context, sys *types.SystemContext, id string) (*local, error) {
	img, err := e.store.Image(id)
	if errors.Is(err, storage.ErrImageUnknown) || errors.Is(err, storage.ErrNotAnImage) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up image %s: %w", id, pullerrors.Wrap(pullerrors.Storage, err))
	}
	if len(id) < 64 && !strings.HasPrefix(img.ID, id) {
		return nil, nil // matched a name, not an ID prefix
	}
	l := &local{image: img, byID: true}
	e.inspect(ctx, sys, l)
	return l, nil
}

// inspect checks that the image can be read (every layer of its chain is in
// the store, its manifest and config parse) and records its platform. It
// reports whether the image is a manifest list (which has no layers, and
// is healthy).
func (e *Engine) inspect(ctx context.Context, sys *types.SystemContext, l *local) (isList bool) {
	for id := l.image.TopLayer; id != ""; {
		layer, err := e.store.Layer(id)
		if err != nil {
			l.corrupted = fmt.Errorf("layer %s of image %s: %w", id, l.image.ID, err)
			return false
		}
		id = layer.Parent
	}
	p, isList, err := e.imagePlatform(ctx, sys, l.image.ID)
	if err != nil && !isList {
		l.corrupted = err
		return false
	}
	l.platform = p
	return isList
}

// imagePlatform reads the platform an image's config declares. A manifest
// list stored as an image has none: isList is then true.
func (e *Engine) imagePlatform(ctx context.Context, sys *types.SystemContext, id string) (p platform.Platform, isList bool, err error) {
	ref, err := istorage.Transport.NewStoreReference(e.store, nil, id)
	if err != nil {
		return p, false, err
	}
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return p, false, fmt.Errorf("image %s exists in local storage but cannot be read: %w", id, err)
	}
	defer src.Close()
	_, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return p, false, fmt.Errorf("reading manifest of image %s: %w", id, err)
	}
	if manifest.MIMETypeIsMultiImage(mime) {
		return p, true, nil
	}
	img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
	if err != nil {
		return p, false, fmt.Errorf("image %s exists in local storage but may be corrupted: %w", id, err)
	}
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return p, false, fmt.Errorf("reading config of image %s: %w", id, err)
	}
	return platform.Normalize(platform.FromOCI(cfg.Platform)), false, nil
}

// describe builds the Result's view of a stored image.
func (e *Engine) describe(ctx context.Context, sys *types.SystemContext, img *storage.Image, pulled digest.Digest) Image {
	out := e.describeStored(img)
	if pulled != "" {
		out.Digest = pulled
	}
	if p, _, err := e.imagePlatform(ctx, sys, img.ID); err == nil {
		out.Platform = p
	}
	return out
}

// describeLocal is describe for an image lookupLocal inspected already: its
// platform is known, so the manifest and config are not read again (half
// the cost of a pull that uses the local image).
func (e *Engine) describeLocal(loc *local) Image {
	out := e.describeStored(loc.image)
	out.Platform = loc.platform
	return out
}

// describeStored is what the store's record says of an image.
func (e *Engine) describeStored(img *storage.Image) Image {
	out := Image{ID: img.ID, Names: img.Names, Digest: img.Digest}
	if size, err := e.store.ImageSize(img.ID); err == nil {
		out.Size = size
	}
	return out
}
