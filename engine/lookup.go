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

// lookupLocal finds the local image the pull would produce or reuse for
// its input. A pull that pins a platform skips images whose config
// declares another. Not finding one is (nil, nil); other errors are the
// store's.
func (st *pullState) lookupLocal(ctx context.Context) (*local, error) {
	in := st.in
	if in.id != "" {
		return st.lookupID(ctx, in.id)
	}
	names, err := st.localCandidates()
	if err != nil {
		return nil, err
	}
	for _, named := range names {
		l, err := st.lookupName(ctx, named)
		if err != nil {
			return nil, err
		}
		if !fits(l, st.pinned) {
			continue
		}
		return l, nil
	}
	// A short ID ("ec9293436c2e") names a local image only if no name did.
	if shortID.MatchString(in.name) {
		if l, err := st.lookupID(ctx, in.name); l != nil || err != nil {
			return l, err
		}
	}
	if in.qualified {
		return nil, nil
	}
	return st.lookupRepoSuffix(ctx, in.name)
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
func (st *pullState) localCandidates() ([]reference.Named, error) {
	in := st.in
	if in.qualified {
		named, err := in.qualifiedName()
		if err != nil {
			return nil, err
		}
		return []reference.Named{named}, nil
	}
	names, err := shortnames.ResolveLocally(&st.sys, in.name)
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

// lookupName finds the image stored under named; a manifest list stored
// there stands for its instance for the pull's platform (listInstance).
func (st *pullState) lookupName(ctx context.Context, named reference.Named) (*local, error) {
	e := st.e
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
	if st.inspect(ctx, l) {
		return st.listInstance(ctx, l)
	}
	return l, nil
}

// listInstance turns a manifest list found under a name into the stored
// instance for the pull's platform (the pinned one, else the host's: the
// pull's SystemContext carries the choice), as Podman does with its local
// manifest lists. No stored instance: not found. A stored list that cannot
// be read or parsed is not found either (the pull fetches it again), and
// the reason is logged, so that a damaged store is seen.
func (st *pullState) listInstance(ctx context.Context, list *local) (*local, error) {
	e := st.e
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
	d, err := ml.ChooseInstance(&st.sys)
	if err != nil {
		return nil, nil
	}
	imgs, err := e.store.ImagesByDigest(d)
	if err != nil || len(imgs) == 0 {
		return nil, nil
	}
	l := &local{image: imgs[0], name: list.name}
	st.inspect(ctx, l)
	return l, nil
}

// lookupID finds the image whose ID is id or starts with it.
func (st *pullState) lookupID(ctx context.Context, id string) (*local, error) {
	img, err := st.e.store.Image(id)
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
	st.inspect(ctx, l)
	return l, nil
}

// inspect checks that the image can be read (every layer of its chain is in
// the store, its manifest and config parse) and records its platform. It
// reports whether the image is a manifest list (which has no layers, and
// is healthy).
func (st *pullState) inspect(ctx context.Context, l *local) (isList bool) {
	for id := l.image.TopLayer; id != ""; {
		layer, err := st.e.store.Layer(id)
		if err != nil {
			l.corrupted = fmt.Errorf("layer %s of image %s: %w", id, l.image.ID, err)
			return false
		}
		id = layer.Parent
	}
	p, isList, err := st.imagePlatform(ctx, l.image.ID)
	if err != nil && !isList {
		l.corrupted = err
		return false
	}
	l.platform = p
	return isList
}

// imagePlatform reads the platform an image's config declares. A manifest
// list stored as an image has none: isList is then true.
func (st *pullState) imagePlatform(ctx context.Context, id string) (p platform.Platform, isList bool, err error) {
	sys := &st.sys
	ref, err := istorage.Transport.NewStoreReference(st.e.store, nil, id)
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
func (st *pullState) describe(ctx context.Context, img *storage.Image, pulled digest.Digest) Image {
	out := st.e.describeStored(img)
	if pulled != "" {
		out.Digest = pulled
	}
	if p, _, err := st.imagePlatform(ctx, img.ID); err == nil {
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
