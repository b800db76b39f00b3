package engine

// The cold-pull fast path (design.md "The cold-pull fast path", README
// "Fast path").
//
// A registry pull into an overlay store streams each missing layer once,
// from the network through one decompression into a staging directory of
// its own (storage's PrepareStagedLayer with internal/stagedlayer's
// differ, which computes the blob digest, the diff ID and the tar-split in
// that pass), all missing layers at once within the parallel-copies bound.
// Only when every staged layer has matched both its digests are the layers
// applied, in order, under the IDs copy.Image gives (ApplyStagedLayer), and
// the image record written as containers/image's storage destination
// writes it (internal/imagerecord).
//
// What differs from copy.Image's result: the layer records' CompressedSize
// and CompressionType stay empty, as containers/image's own zstd:chunked
// pulls leave them. Every other field, big-data item and byte on disk is
// the same (fastpath_equiv_test.go proves it).
//
// Everything the fast path does not serve goes to copy.Image, decided
// before anything is stored (errNotFast): other drivers, other transports,
// schema1, manifests with encrypted, foreign or non-distributable layers,
// artifacts (a config that is not an image config), zstd:chunked layers
// when partial pulls are on, signatures other than simple signing, and Options.DisableFastPath. The signature policy
// is enforced here, before anything is fetched, as copy.Image enforces it.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/internal/stagedlayer"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage/pkg/chunked/toc"
)

// errNotFast says the fast path does not serve this pull; copy.Image does.
// It is returned before anything is stored.
var errNotFast = errors.New("not a fast-path pull")

// notFast is errNotFast with the reason, for the debug log.
func notFast(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotFast, fmt.Sprintf(format, args...))
}

// fastCopy is the fast path's attempt at what copyOnce does: it copies src
// into the store under dest's name and returns the manifest copied and a
// reference to the stored image. An error wrapping errNotFast means the
// fast path does not serve this pull and nothing was stored.
//
// When it leaves the pull to copy.Image after reading, its source and
// manifests are left in probe for copy.Image's source (fastProbe).
func (t *transferSpec) fastCopy(ctx context.Context, rep *report.Reporter, src, dest types.ImageReference, probe *fastProbe) ([]byte, types.ImageReference, error) {
	named := dest.DockerReference()
	if t.e.fastOff || t.e.store.GraphDriverName() != "overlay" || src.Transport().Name() != "docker" || named == nil {
		return nil, nil, errNotFast
	}
	if needsSigstore(t.cfg.policy) {
		// Sigstore-signed images go to copy.Image (readSignatures), and
		// with such a policy its source is not wrapped, so it could not
		// reuse the manifests read here: leave the pull to it at once.
		return nil, nil, notFast("the signature policy asks for sigstore signatures")
	}
	fp, err := t.openFast(ctx, rep, src, named, probe)
	if err != nil {
		if errors.Is(err, errNotFast) {
			t.e.log.DebugContext(ctx, "copy.Image serves this pull", "image", describeRef(src), "reason", err)
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("copying %s: %w", describeRef(src), engineerr.Bound(err))
	}
	defer fp.close()
	id, err := fp.pull(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("copying %s: %w", fp.ref, engineerr.Bound(err))
	}
	resolved, err := istorage.Transport.ParseStoreReference(t.e.store, "@"+id)
	if err != nil {
		return nil, nil, fmt.Errorf("internal error: a reference to image %s: %w", id, err)
	}
	rep.Emit(progress.Event{Kind: progress.ManifestWritten, Ref: fp.ref, Message: PathFast})
	return fp.manifest, resolved, nil
}

// fastPull is one attempt of the fast path: the source, what was read of
// the image before any layer, and how its blobs are read.
type fastPull struct {
	spec  *transferSpec
	rep   *report.Reporter
	ref   string          // the source as events name it
	named reference.Named // the name the image gets

	src    types.ImageSource
	blobs  blobOpener // the resumable, bounded blob reader
	cache  types.BlobInfoCache
	limits *fastLimits
	probe  *fastProbe

	top            []byte // the top-level manifest (a list, or the manifest)
	manifest       []byte
	manifestDigest digest.Digest
	configInfo     types.BlobInfo
	config         []byte
	layers         []types.BlobInfo
	diffIDs        []digest.Digest
	created        time.Time
	signatures     [][]byte
}

// openFast opens the source and reads everything but the layers: the
// manifest (the instance copy.Image would choose, from a list), the
// signature policy's verdict, the config and the signatures. An error
// wrapping errNotFast leaves the pull to copy.Image.
func (t *transferSpec) openFast(ctx context.Context, rep *report.Reporter, srcRef types.ImageReference, named reference.Named, probe *fastProbe) (*fastPull, error) {
	src, err := srcRef.NewImageSource(ctx, &t.sys)
	if err != nil {
		return nil, fmt.Errorf("initializing source %s: %w", describeRef(srcRef), err)
	}
	fp := &fastPull{spec: t, rep: rep, ref: describeRef(srcRef), named: named, src: src, probe: probe,
		cache: blobinfocache.DefaultCache(&t.sys), limits: &fastLimits{l: t.e.limits}}
	fp.blobs = t.newBlobOpener(rep, srcRef, src)
	unparsed, err := fp.readManifest(ctx)
	if err == nil {
		err = fp.checkPolicy(ctx, unparsed)
	}
	if err == nil {
		err = fp.readImage(ctx, unparsed)
	}
	switch {
	case errors.Is(err, errNotFast):
		probe.keepSource(src) // for copy.Image, with what it read
		return nil, err
	case err != nil:
		fp.close()
		return nil, err
	}
	return fp, nil
}

// close closes the source.
func (fp *fastPull) close() { _ = fp.src.Close() }

// readManifest reads the top-level manifest and, from a list, the
// instance copy.Image would choose (platform.WantedPlatforms order, zstd
// preferred, as containers/image's ChooseInstance), checking Limits'
// layer count on each, and the digest the destination name pins.
func (fp *fastPull) readManifest(ctx context.Context) (*image.UnparsedImage, error) {
	unparsed := image.UnparsedInstance(fp.src, nil)
	top, mime, err := unparsed.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", fp.ref, err)
	}
	fp.probe.addManifest(nil, top, mime)
	if _, err := fp.spec.e.limits.checkManifest(top, mime); err != nil {
		return nil, err
	}
	fp.top, fp.manifest = top, top
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(top, mime)
		if err != nil {
			return nil, notFast("manifest list: %v", err)
		}
		d, err := list.ChooseInstance(&fp.spec.sys)
		if err != nil {
			return nil, notFast("no instance for this platform: %v", err) // copy.Image says which
		}
		unparsed = image.UnparsedInstance(fp.src, &d)
		if fp.manifest, mime, err = unparsed.Manifest(ctx); err != nil {
			return nil, fmt.Errorf("reading manifest %s of %s: %w", d, fp.ref, err)
		}
		fp.probe.addManifest(&d, fp.manifest, mime)
		if _, err := fp.spec.e.limits.checkManifest(fp.manifest, mime); err != nil {
			return nil, err
		}
	}
	if mime != manifest.DockerV2Schema2MediaType && mime != imgspecv1.MediaTypeImageManifest {
		return nil, notFast("manifest type %q", mime)
	}
	if fp.manifestDigest, err = manifest.Digest(fp.manifest); err != nil {
		return nil, err
	}
	if pinned, ok := fp.named.(reference.Digested); ok && pinned.Digest() != fp.manifestDigest && !digestOf(fp.top, pinned.Digest()) {
		return nil, notFast("the name pins %s", pinned.Digest()) // copy.Image refuses it in its words
	}
	return unparsed, nil
}

// digestOf reports whether blob's manifest digest is d.
func digestOf(blob []byte, d digest.Digest) bool {
	ok, err := manifest.MatchesDigest(blob, d)
	return err == nil && ok
}

// checkPolicy enforces the signature policy on the image as copy.Image
// does, before anything is fetched: simple signing, sigstore, any
// requirement policy.json may state.
func (fp *fastPull) checkPolicy(ctx context.Context, unparsed *image.UnparsedImage) error {
	pc, err := signature.NewPolicyContext(fp.spec.cfg.policy)
	if err != nil {
		return fmt.Errorf("signature policy: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	defer func() { _ = pc.Destroy() }()
	if allowed, err := pc.IsRunningImageAllowed(ctx, unparsed); !allowed || err != nil {
		if err == nil {
			err = errors.New("the signature policy refused the image")
		}
		//lint:ignore ST1005 copy.Image's words, which callers and tests match
		return fmt.Errorf("Source image rejected: %w", err)
	}
	return nil
}

// readImage reads the config and the signatures, and refuses (errNotFast)
// what the fast path leaves to copy.Image.
func (fp *fastPull) readImage(ctx context.Context, unparsed *image.UnparsedImage) error {
	img, err := image.FromUnparsedImage(ctx, &fp.spec.sys, unparsed)
	if err != nil {
		return notFast("parsing the image: %v", err)
	}
	fp.configInfo = img.ConfigInfo()
	if !imageConfigType(fp.configInfo.MediaType) {
		return notFast("config media type %q (an artifact)", fp.configInfo.MediaType)
	}
	fp.layers = img.LayerInfos()
	if err := fp.checkLayers(); err != nil {
		return err
	}
	fp.config, err = img.ConfigBlob(ctx)
	if err != nil {
		return fmt.Errorf("reading config of %s: %w", fp.ref, err)
	}
	oci, err := img.OCIConfig(ctx)
	if err != nil {
		return notFast("config: %v", err)
	}
	if len(oci.RootFS.DiffIDs) != len(fp.layers) {
		return notFast("the config lists %d diff IDs for %d layers", len(oci.RootFS.DiffIDs), len(fp.layers))
	}
	for _, d := range oci.RootFS.DiffIDs {
		if d.Validate() != nil {
			return notFast("invalid diff ID %q", d)
		}
	}
	fp.diffIDs = oci.RootFS.DiffIDs
	if oci.Created != nil {
		fp.created = *oci.Created
	}
	return fp.readSignatures(ctx, unparsed)
}

// checkLayers refuses layers the differ does not read or copy.Image
// treats specially.
func (fp *fastPull) checkLayers() error {
	partial := partialPullsActive(fp.spec.e.store)
	for _, l := range fp.layers {
		switch {
		case len(l.URLs) > 0:
			return notFast("layer %s has URLs (foreign)", l.Digest)
		case !distributableLayerType(l.MediaType):
			return notFast("layer %s has media type %q", l.Digest, l.MediaType)
		case l.Size < 0:
			return notFast("layer %s has no size", l.Digest)
		case l.Digest.Validate() != nil:
			return notFast("layer digest %q", l.Digest)
		}
		if partial {
			if d, err := toc.GetTOCDigest(l.Annotations); err != nil || d != nil {
				return notFast("layer %s can be pulled partially", l.Digest)
			}
		}
	}
	return nil
}

// distributableLayerType reports whether layers of media type mt are
// ordinary gzip, zstd or uncompressed tars, which the fast path reads.
func distributableLayerType(mt string) bool {
	return slices.Contains([]string{
		manifest.DockerV2Schema2LayerMediaType, manifest.DockerV2SchemaLayerMediaTypeUncompressed,
		imgspecv1.MediaTypeImageLayerGzip, imgspecv1.MediaTypeImageLayerZstd, imgspecv1.MediaTypeImageLayer,
	}, mt) && stagedlayer.Supported(mt)
}

// imageConfigType reports whether mt is a container image config.
func imageConfigType(mt string) bool {
	return mt == manifest.DockerV2Schema2ConfigMediaType || mt == imgspecv1.MediaTypeImageConfig
}

// readSignatures reads the image's signatures as copy.Image stores them.
// The public API returns simple-signing signatures only; an image with
// others (sigstore) is left to copy.Image, which stores them in its own
// form.
func (fp *fastPull) readSignatures(ctx context.Context, unparsed *image.UnparsedImage) error {
	sigs, err := unparsed.Signatures(ctx)
	if err != nil {
		return fmt.Errorf("reading signatures: %w", err)
	}
	all, ok := untrustedSignatureCount(ctx, unparsed)
	if !ok || all != len(sigs) {
		return notFast("signatures other than simple signing")
	}
	fp.signatures = sigs
	return nil
}

// untrustedSignatureCount counts the image's signatures of every format.
// containers/image has no public way to see them: ImageSource.GetSignatures
// and UnparsedImage.Signatures silently drop every format but simple
// signing, and GetSignaturesWithFormat is on its internal private
// interface. Its UnparsedImage (an alias of the internal type) has the
// method UntrustedSignatures, returning an internal type, so it is called
// by reflection. ok is false when the method is not there, has another
// shape, or fails; the pull then goes to copy.Image, which stores every
// format. TestUntrustedSignaturesMethodExists pins the method in the
// containers/image of go.mod, so an upgrade that drops it fails there
// rather than quietly sending signed pulls to copy.Image.
func untrustedSignatureCount(ctx context.Context, unparsed any) (n int, ok bool) {
	m := reflect.ValueOf(unparsed).MethodByName("UntrustedSignatures")
	errType := reflect.TypeFor[error]()
	if !m.IsValid() || m.Type().NumIn() != 1 || m.Type().NumOut() != 2 ||
		!reflect.TypeOf(ctx).AssignableTo(m.Type().In(0)) || m.Type().Out(1) != errType {
		return 0, false
	}
	out := m.Call([]reflect.Value{reflect.ValueOf(ctx)})
	if !out[1].IsNil() || out[0].Kind() != reflect.Slice {
		return 0, false
	}
	return out[0].Len(), true
}

// pull stores the layers and then the image record; it returns the image ID.
func (fp *fastPull) pull(ctx context.Context) (string, error) {
	top, err := fp.storeLayers(ctx)
	if err != nil {
		return "", err
	}
	fp.configEvents()
	return fp.writeRecord(top)
}

// configEvents reports the config as copy.Image does, after the layers.
func (fp *fastPull) configEvents() {
	ev := progress.Event{Kind: progress.BlobStarted, Ref: fp.ref, Digest: fp.configInfo.Digest, Config: true, Total: fp.configInfo.Size}
	fp.rep.Emit(ev)
	ev.Kind, ev.Current = progress.BlobDone, int64(len(fp.config))
	fp.rep.Emit(ev)
	ev.Kind = progress.ConfigWritten
	fp.rep.Emit(ev)
}

// fastProbe is what the fast path opened and read before it left a pull
// to copy.Image: its image source (authenticated, the top-level manifest
// loaded) and the manifests it read, by instance digest ("" for the top
// level). copy.Image's wrapped source takes both, so a fallback costs no
// second manifest GET (a registry may count each as a pull). A nil probe
// keeps nothing.
type fastProbe struct {
	mu        sync.Mutex
	src       types.ImageSource
	manifests map[string]probedManifest
}

type probedManifest struct {
	raw  []byte
	mime string
}

func probeKey(instance *digest.Digest) string {
	if instance == nil {
		return ""
	}
	return instance.String()
}

// keepSource hands src over to the probe, which closes it unless taken.
func (p *fastProbe) keepSource(src types.ImageSource) {
	if p == nil {
		_ = src.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.src = src
}

// source takes the source kept, nil if none.
func (p *fastProbe) source() types.ImageSource {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	src := p.src
	p.src = nil
	return src
}

// addManifest keeps a manifest read.
func (p *fastProbe) addManifest(instance *digest.Digest, raw []byte, mime string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.manifests == nil {
		p.manifests = map[string]probedManifest{}
	}
	p.manifests[probeKey(instance)] = probedManifest{raw: raw, mime: mime}
}

// manifest returns a manifest kept, once.
func (p *fastProbe) manifest(instance *digest.Digest) ([]byte, string, bool) {
	if p == nil {
		return nil, "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.manifests[probeKey(instance)]
	delete(p.manifests, probeKey(instance))
	return m.raw, m.mime, ok
}

// close closes the source if nobody took it.
func (p *fastProbe) close() {
	if src := p.source(); src != nil {
		_ = src.Close()
	}
}
