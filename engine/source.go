package engine

// The source wrapper: containers/image copies from a types.ImageSource
// that is ours around the real one. It does three things the real one does
// not:
//
//   - it keeps the bytes of a registry blob as they arrive
//     (internal/blobresume) and resumes an interrupted blob with a ranged
//     request, across attempts, processes and crashes, with a stall
//     watchdog (blobreader.go);
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
// itself) and no Limits are set, and when the signature policy asks for
// sigstore signatures.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/blobresume"
	"github.com/pullengine/pullengine/internal/report"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// wrapSource returns the reference copy.Image should read from: src, or a
// wrapper whose image source resumes blobs and enforces sizes and limits.
func (e *Engine) wrapSource(st *pullState, rep *report.Reporter, src types.ImageReference) types.ImageReference {
	registry := src.Transport().Name() == "docker"
	if !registry && !e.limits.set() {
		return src
	}
	if registry && partialPullsActive(e.store) && !e.limits.set() {
		return src
	}
	if needsSigstore(st.cfg.policy) {
		if e.limits.set() {
			e.log.Warn("the signature policy needs sigstore signatures, which a wrapped source would hide: Limits are not enforced for this pull", "image", describeRef(src))
		}
		return src
	}
	return &wrappedRef{ImageReference: src, e: e, rep: rep, registry: registry}
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

// wrappedRef is src whose NewImageSource returns a wrappedSource.
type wrappedRef struct {
	types.ImageReference
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
	inner, err := r.ImageReference.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	return &wrappedSource{ImageSource: inner, ref: r, sys: sys, layers: map[digest.Digest]bool{}}, nil
}

// wrappedSource is the real source with GetManifest and GetBlob watched.
type wrappedSource struct {
	types.ImageSource
	ref *wrappedRef
	sys *types.SystemContext

	mu      sync.Mutex
	layers  map[digest.Digest]bool // layers of the manifests read
	fetcher *rangeFetcher
	fErr    error

	unpacked atomic.Int64 // uncompressed bytes of the layers fetched (Limits)
}

// GetManifest checks the layer count and notes which blobs are layers.
func (s *wrappedSource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	raw, mime, err := s.ImageSource.GetManifest(ctx, instanceDigest)
	if err != nil {
		return raw, mime, err
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

// GetBlob returns the blob's stream: resumable for a large registry blob,
// bounded by its declared size, counted when Limits ask.
func (s *wrappedSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	rc, size, err := s.open(ctx, info, cache)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	layer := s.layers[info.Digest]
	s.mu.Unlock()
	if layer && s.ref.e.limits.countsBytes() {
		rc = &countedBlob{ReadCloser: rc, c: s.ref.e.limits.countUncompressed(rc, info.Digest.String(), &s.unpacked)}
	}
	return rc, size, nil
}

// open picks the resumable or the plain path.
func (s *wrappedSource) open(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	partials := s.ref.e.resume.partials
	if s.ref.registry && partials != nil && len(info.URLs) == 0 && info.Size >= minResumableSize && blobresume.Supported(info.Digest, info.Size) {
		p, err := partials.OpenWait(ctx, info.Digest, info.Size, busyWait)
		switch {
		case err == nil:
			return s.resumable(ctx, info, cache, p)
		case !errors.Is(err, blobresume.ErrBusy):
			s.ref.e.log.Warn("cannot keep a partial download", "digest", info.Digest, "err", err)
		}
	}
	rc, size, err := s.ImageSource.GetBlob(ctx, info, cache)
	if err != nil {
		return nil, 0, err
	}
	if err := checkAnnounced(info, size, s.peer()); err != nil {
		rc.Close()
		return nil, 0, err
	}
	return sizedFrom(rc, info, s.peer()), size, nil
}

// peer names what sends the blobs, for messages: a local file is not a
// registry.
func (s *wrappedSource) peer() string {
	if s.ref.registry {
		return registryPeer
	}
	return "the source"
}

// registryPeer is peer for a registry.
const registryPeer = "the registry"

// sized bounds rc, a registry's body, by the blob's declared size, if known.
func sized(rc io.ReadCloser, info types.BlobInfo) io.ReadCloser {
	return sizedFrom(rc, info, registryPeer)
}

// sizedFrom is sized for a body peer sends.
func sizedFrom(rc io.ReadCloser, info types.BlobInfo, peer string) io.ReadCloser {
	if info.Size < 0 {
		return rc
	}
	return &sizedBlob{ReadCloser: rc, d: info.Digest, left: info.Size, peer: peer}
}

// checkAnnouncedSize refuses a registry body announced longer than the
// blob's declared size, before reading it. A shorter one is read: the
// digest check decides (a manifest may declare a wrong size for the
// content its digest names; containers/image accepts that).
func checkAnnouncedSize(info types.BlobInfo, announced int64) error {
	return checkAnnounced(info, announced, registryPeer)
}

// checkAnnounced is checkAnnouncedSize for a body peer announces.
func checkAnnounced(info types.BlobInfo, announced int64, peer string) error {
	if info.Size >= 0 && announced > info.Size {
		return oversizeError(info.Digest, fmt.Sprintf("%s announced %d bytes for a blob declared as %d", peer, announced, info.Size))
	}
	return nil
}

// oversizeError is the integrity error of a body that does not match the
// declared size. Retrying would fetch the same body: not retried.
func oversizeError(d digest.Digest, what string) error {
	return pullerrors.Final(pullerrors.Errorf(pullerrors.Integrity, "blob %s: %s", d, what))
}

// sizedBlob stops at the declared size, and fails if the body goes on.
type sizedBlob struct {
	io.ReadCloser
	d    digest.Digest
	left int64
	peer string // who sends it, for messages
}

// Read reads at most the declared size; past it, one more byte is an error.
func (b *sizedBlob) Read(p []byte) (int, error) {
	if b.left == 0 {
		var one [1]byte
		n, err := io.ReadFull(b.ReadCloser, one[:])
		if n > 0 {
			return 0, oversizeError(b.d, b.peer+" sent more bytes than the declared size")
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left == 0 {
		err = nil // the check for extra bytes comes with the next Read
	}
	return n, err
}

// countedBlob reads through an uncompressedCounter.
type countedBlob struct {
	io.ReadCloser
	c *uncompressedCounter
}

func (b *countedBlob) Read(p []byte) (int, error) { return b.c.Read(p) }

// Close stops the counter and closes the blob.
func (b *countedBlob) Close() error {
	b.c.stop()
	return b.ReadCloser.Close()
}

// rangeFetcher returns the ranged client of this source's registry, made
// once; an error means resumes fall back to whole GETs.
func (s *wrappedSource) rangeFetcher() (*rangeFetcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetcher == nil && s.fErr == nil {
		named := s.ref.DockerReference()
		if named == nil {
			s.fErr = errNoRangeClient
		} else {
			s.fetcher, s.fErr = newRangeFetcher(s.sys, named)
		}
	}
	return s.fetcher, s.fErr
}
