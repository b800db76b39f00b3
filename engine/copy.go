package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// copyToStore copies src into the store under dest (a name, or "@<id>"),
// retrying transient failures, and returns the image the copy created,
// found by the ID the copy reported (never by name: another process may
// have moved the name meanwhile) and the digest of the manifest copied.
func (st *pullState) copyToStore(ctx context.Context, src types.ImageReference, dest string) (*storage.Image, digest.Digest, error) {
	e := st.e
	destRef, err := istorage.Transport.ParseStoreReference(e.store, dest)
	if err != nil {
		return nil, "", invalidReference(dest, err)
	}
	// Pulls with other decryption keys may not share the transfer: one
	// without keys would fail, or get an image it could not decrypt itself.
	key := flightKey(&st.sys, src, dest, st.retries.max, st.retries.delay) + st.dec.id
	return e.flights.do(ctx, key, st.rep, func(ctx context.Context, rep *report.Reporter) (*storage.Image, digest.Digest, error) {
		return st.copyWithRetries(ctx, rep, src, destRef, dest)
	})
}

// copyWithRetries is one transfer: copies with retries, then finds the
// image the copy reported. Its progress goes to rep.
func (st *pullState) copyWithRetries(ctx context.Context, rep *report.Reporter, src, destRef types.ImageReference, dest string) (*storage.Image, digest.Digest, error) {
	var manifestBytes []byte
	var resolved types.ImageReference
	err := st.e.retry(ctx, rep, st.retries, func() error {
		var err error
		manifestBytes, resolved, err = st.copyOnce(ctx, rep, src, destRef)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if resolved == nil {
		return nil, "", fmt.Errorf("internal error: the copy to %s reported no image", dest)
	}
	_, img, err := istorage.ResolveReference(resolved)
	if err != nil {
		return nil, "", fmt.Errorf("finding the image just copied to %s: %w", dest, pullerrors.Wrap(pullerrors.Storage, err))
	}
	d, err := manifest.Digest(manifestBytes)
	if err != nil {
		return nil, "", fmt.Errorf("digesting the manifest copied to %s: %w", dest, err)
	}
	return img, d, nil
}

// copyOnce is one attempt: the fast path when it serves the pull
// (fastpath.go), else one copy.Image call with a fresh policy context (a
// PolicyContext is not safe for concurrent use; the parsed policy is).
func (st *pullState) copyOnce(ctx context.Context, rep *report.Reporter, src, dest types.ImageReference) ([]byte, types.ImageReference, error) {
	probe := &fastProbe{}
	defer probe.close()
	if out, resolved, err := st.fastCopy(ctx, rep, src, dest, probe); !errors.Is(err, errNotFast) {
		return out, resolved, err
	}
	pc, err := signature.NewPolicyContext(st.cfg.policy)
	if err != nil {
		return nil, nil, fmt.Errorf("signature policy: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	defer func() { _ = pc.Destroy() }()
	var resolved types.ImageReference
	events, stop := rep.CopyProgress(describeRef(src))
	from := st.e.wrapSource(st, rep, src)
	if w, ok := from.(*wrappedRef); ok {
		w.probe = probe
	}
	out, err := copy.Image(ctx, pc, dest, from, &copy.Options{
		SourceCtx:               &st.sys,
		DestinationCtx:          &st.sys,
		ReportResolvedReference: &resolved,
		MaxParallelDownloads:    st.cfg.conf.parallelCopies,
		Progress:                events,
		ProgressInterval:        report.DefaultProgressInterval,
		OciDecryptConfig:        st.dec.config,
	})
	stop()
	if err == nil {
		rep.Emit(progress.Event{Kind: progress.ManifestWritten, Ref: describeRef(src), Message: PathCopy})
	}
	if err != nil {
		// A local file's fault is decided here, before the retry loop.
		return nil, nil, localFault(src, fmt.Errorf("copying %s: %w", describeRef(src), pullerrors.Bound(st.dec.explain(copyError(from, err)))))
	}
	return out, resolved, nil
}

// describeRef names a source for messages and results: the registry name
// for docker references, the transport reference otherwise (without the
// empty ":ref" some transports append, as in "oci-archive:x.tar:").
func describeRef(ref types.ImageReference) string {
	if named := ref.DockerReference(); named != nil && ref.Transport().Name() == "docker" {
		return named.String()
	}
	return strings.TrimSuffix(ref.Transport().Name()+":"+ref.StringWithinTransport(), ":")
}
