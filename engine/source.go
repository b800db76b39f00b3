package engine

// The source wrapper: containers/image copies from a types.ImageSource
// that is ours around the real one. It does three things the real one does
// not:
//
//   - it keeps the bytes of a registry blob as they arrive
//     (internal/blobresume) and resumes an interrupted blob with a ranged
//     request, across attempts, processes and crashes, with a stall
//     watchdog (internal/fetch, which the fast path reads blobs with too);
//   - it refuses a blob whose body is longer than its declared size, and
//     stops reading at that size (every blob, every transport);
//   - it applies Options.Limits (layer count from the manifest,
//     uncompressed sizes by counting a decompression).
//
// The price: containers/image sees a public types.ImageSource, so its
// private extensions are gone: ranged reads (zstd:chunked partial pulls)
// and signatures other than simple signing (sigstore). wrapSource
// therefore leaves the source alone when the store has partial pulls
// enabled (enable_partial_images: storage then fetches only missing chunks
// itself) and no Limits are set (probedRef), and when the signature policy
// asks for sigstore signatures.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/fetch"
	"github.com/pullengine/pullengine/internal/registryclient"
	"github.com/pullengine/pullengine/internal/report"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// wrapSource returns the reference copy.Image should read from: a
// wrapper whose image source resumes blobs and enforces sizes and limits,
// or, where a wrapper would hide what copy.Image needs, src itself (with
// the source the fast path left in probe, if any).
func (t *transferSpec) wrapSource(rep *report.Reporter, src types.ImageReference, probe *fastProbe) types.ImageReference {
	e := t.e
	registry := src.Transport().Name() == "docker"
	if !registry && !e.limits.set() {
		return src
	}
	if registry && partialPullsActive(e.store) && !e.limits.set() {
		return &probedRef{ImageReference: src, probe: probe}
	}
	if needsSigstore(t.cfg.policy) {
		if e.limits.set() {
			e.log.Warn("the signature policy needs sigstore signatures, which a wrapped source would hide: Limits are not enforced for this pull", "image", describeRef(src))
		}
		return src
	}
	return &wrappedRef{probedRef: probedRef{ImageReference: src, probe: probe}, e: e, rep: rep, registry: registry}
}

// probedRef is src whose NewImageSource returns the source the fast path
// opened, when it left one: the very object containers/image made, so its
// private extensions (ranged reads for partial pulls) stay, and its
// top-level manifest is already loaded: the fallback costs no second GET
// of it. Used alone (partial pulls), a manifest list's instance is read
// again (by digest), since the source's GetManifest cannot be wrapped
// without hiding those extensions; wrappedRef builds on it and also hands
// over the manifests read.
type probedRef struct {
	types.ImageReference
	probe *fastProbe
}

// NewImageSource returns the probe's source, else opens one.
func (r *probedRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	if src := r.probe.source(); src != nil {
		return src, nil
	}
	return r.ImageReference.NewImageSource(ctx, sys)
}

// needsSigstore reports whether the policy has a sigstoreSigned
// requirement anywhere.
func needsSigstore(p *signature.Policy) bool {
	if p == nil {
		return false
	}
	raw, err := json.Marshal(p)
	return err != nil || strings.Contains(string(raw), `"sigstoreSigned"`)
}

// wrappedRef is src whose NewImageSource returns a wrappedSource around
// the source probedRef gives (its probe is what the fast path opened and
// read in this attempt before it left the pull to copy.Image: the source
// is taken, and GetManifest takes its manifests).
type wrappedRef struct {
	probedRef
	e        *Engine
	rep      *report.Reporter
	registry bool
	// suspect: a partial this copy resumed was found bad and discarded;
	// the copy's failure is then an Integrity one (see copyOnce).
	suspect atomic.Bool
}

// copyError classifies the failure of a copy that read from ref: when a
// partial it resumed was bad, the failure (whatever the consumer called
// it, e.g. a gzip error) is Integrity, and retried without that partial.
func copyError(ref types.ImageReference, err error) error {
	if w, ok := ref.(*wrappedRef); ok && w.suspect.Load() && pullerrors.Classify(err) != pullerrors.Integrity {
		return pullerrors.Wrap(pullerrors.Integrity, err)
	}
	return err
}

// NewImageSource opens the real source and wraps it.
func (r *wrappedRef) NewImageSource(ctx context.Context, sys *types.SystemContext) (types.ImageSource, error) {
	inner, err := r.probedRef.NewImageSource(ctx, sys)
	if err != nil {
		return nil, engineerr.Bound(err) // where a registry's error text enters: cut once, before copy.Image wraps it
	}
	return &wrappedSource{ImageSource: inner, ref: r, sys: sys, layers: map[digest.Digest]bool{}, counter: r.e.limits.counter()}, nil
}

// wrappedSource is the real source with GetManifest and GetBlob watched.
type wrappedSource struct {
	types.ImageSource
	ref *wrappedRef
	sys *types.SystemContext

	mu      sync.Mutex
	layers  map[digest.Digest]bool   // layers of the manifests read
	clients []*registryclient.Client // for ranged resumes, made once
	cErr    error

	counter *fetch.Counter // what the layers fetched unpack to (Limits)
}

// GetManifest checks the layer count and notes which blobs are layers.
func (s *wrappedSource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	raw, mime, ok := s.ref.probe.manifest(instanceDigest)
	var err error
	if !ok {
		raw, mime, err = s.ImageSource.GetManifest(ctx, instanceDigest)
	}
	if err != nil {
		return raw, mime, engineerr.Bound(err)
	}
	layers, err := s.ref.e.limits.checkManifest(raw, mime)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	for _, l := range layers {
		s.layers[digest.Digest(l)] = true
	}
	s.mu.Unlock()
	return raw, mime, nil
}

// GetBlob reads the blob through internal/fetch: resumable for a large
// registry blob, bounded by its declared size, counted when Limits ask.
func (s *wrappedSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	layer := s.layers[info.Digest]
	s.mu.Unlock()
	cfg := s.ref.e.fetchConfig(s.ref.rep, &s.ref.suspect)
	cfg.Counter = s.counter
	if !s.ref.registry || len(info.URLs) > 0 {
		cfg.Partials = nil // not a registry's blob: nothing to resume against
	}
	if !s.ref.registry {
		cfg.Peer = "the source" // a local file is no registry
	}
	whole := func(ctx context.Context, _ int64) (*fetch.Body, error) {
		rc, size, err := s.ImageSource.GetBlob(ctx, info, cache)
		if err != nil {
			return nil, engineerr.Bound(err) // a registry's error text enters here too
		}
		return &fetch.Body{ReadCloser: rc, Length: size}, nil
	}
	return fetch.Open(ctx, fetch.Blob{
		Digest: info.Digest, Size: info.Size, Layer: layer,
		Open: fetch.Ranged(s.rangeClients, info.Digest, info.Size, whole, s.ref.e.log),
	}, cfg)
}

// fetchConfig is the internal/fetch configuration of a pull's blobs: the
// Engine's partials and stall timeout, the pull's progress, and suspect
// set when a resumed partial proves bad (the pull's failure is then an
// Integrity one, retried without it). The fast path uses it too.
func (e *Engine) fetchConfig(rep *report.Reporter, suspect *atomic.Bool) fetch.Config {
	return fetch.Config{
		Partials:  e.resume.partials,
		Stall:     e.resume.stall,
		Log:       e.log,
		Emit:      rep.Emit,
		Discarded: func() { suspect.Store(true) },
	}
}

// rangeClients returns the clients of the registries containers/image
// pulls this source's name from (mirrors, then the rewritten location),
// made once; an error means resumes fall back to whole GETs.
func (s *wrappedSource) rangeClients() ([]*registryclient.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients == nil && s.cErr == nil {
		named := s.ref.DockerReference()
		if named == nil {
			s.cErr = errors.New("no ranged request possible: not a registry")
		} else {
			s.clients, s.cErr = registryclient.ForPull(s.sys, named)
		}
	}
	return s.clients, s.cErr
}
