package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// copyToStore copies src into the store under dest (a name, or "@<id>"),
// retrying transient failures, and returns the image the copy created,
// found by the ID the copy reported (never by name: another process may
// have moved the name meanwhile) and the digest of the manifest copied.
func (st *pullState) copyToStore(ctx context.Context, src types.ImageReference, dest string) (*storage.Image, digest.Digest, error) {
	destRef, err := istorage.Transport.ParseStoreReference(st.e.store, dest)
	if err != nil {
		return nil, "", invalidReference(dest, err)
	}
	return st.e.flights.do(ctx, st.transferSpec(src, destRef, dest), st.rep)
}

// transferSpec is one copy into the store as a shared transfer runs it:
// what to copy and everything the copy reads of the pull that started it,
// fixed when the pull hands it over. The transfer may outlive that pull
// and serve others, so it reads nothing of any pullState; nothing in it is
// written after it is made.
type transferSpec struct {
	e       *Engine
	src     types.ImageReference
	destRef types.ImageReference
	dest    string
	// sys is the starting pull's SystemContext, copied (the values it
	// points to are never written once the options are resolved).
	sys types.SystemContext
	// cfg is the configuration the pull read (signature policy,
	// containers.conf); a reload makes a new one, never edits it.
	cfg     *settings
	dec     decryption
	retries retrySettings
	// auth is the RegistryCredentials file sys.AuthFilePath names, nil
	// without them: a running transfer holds it (flights.do), so it
	// lives until the transfer ends even when the pull that wrote it has
	// returned.
	auth *authFile
}

// transferSpec fixes what a transfer of src into destRef (named dest)
// reads of the pull.
func (st *pullState) transferSpec(src, destRef types.ImageReference, dest string) *transferSpec {
	return &transferSpec{e: st.e, src: src, destRef: destRef, dest: dest, sys: st.sys,
		cfg: st.cfg, dec: st.dec, retries: st.retries, auth: st.auth}
}

// key identifies the transfer, for sharing: source, destination name,
// platform choice, the identity of the credentials (hashed, never kept in
// clear), so pulls with different credentials never share a result they
// might not be allowed to see; the decryption keys' identity, since a pull
// without keys would fail, or get an image it could not decrypt itself;
// and the retry budget (retries, first delay), so a caller that asked for
// no retries never waits on a transfer that retries a thousand times (the
// transfer runs with the options of the caller that started it).
// RegistryCredentials count by content, not by the path of the file each
// pull writes them to, so pulls with equal ones share.
func (t *transferSpec) key() string {
	sys := &t.sys
	authFile := "path:" + sys.AuthFilePath
	if t.auth != nil {
		authFile = "registry-credentials:" + t.auth.key
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%d\x00%d\x00%s",
		transports.ImageName(t.src), t.dest, sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice,
		authFile, sys.DockerCertPath, sys.DockerInsecureSkipTLSVerify, t.retries.max, t.retries.delay, t.dec.id)
	if a := sys.DockerAuthConfig; a != nil {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%s", a.Username, a.Password, a.IdentityToken)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// run is the transfer: copies with retries, then finds the image the copy
// reported. Its progress goes to rep.
func (t *transferSpec) run(ctx context.Context, rep *report.Reporter) (*storage.Image, digest.Digest, error) {
	src, destRef, dest := t.src, t.destRef, t.dest
	var manifestBytes []byte
	var resolved types.ImageReference
	err := t.e.retry(ctx, rep, t.retries, func() error {
		var err error
		manifestBytes, resolved, err = t.copyOnce(ctx, rep, src, destRef)
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
func (t *transferSpec) copyOnce(ctx context.Context, rep *report.Reporter, src, dest types.ImageReference) ([]byte, types.ImageReference, error) {
	t.e.driverProbe.start(t.e.store) // overlaps the downloads; layers wait for it
	probe := &fastProbe{}
	defer probe.close()
	if out, resolved, err := t.fastCopy(ctx, rep, src, dest, probe); !errors.Is(err, errNotFast) {
		return out, resolved, err
	}
	pc, err := signature.NewPolicyContext(t.cfg.policy)
	if err != nil {
		return nil, nil, fmt.Errorf("signature policy: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	defer func() { _ = pc.Destroy() }()
	var resolved types.ImageReference
	events, stop := rep.CopyProgress(describeRef(src))
	from := t.wrapSource(rep, src, probe)
	t.e.driverProbe.wait(t.e.store)
	out, err := copy.Image(ctx, pc, dest, from, &copy.Options{
		SourceCtx:               &t.sys,
		DestinationCtx:          &t.sys,
		ReportResolvedReference: &resolved,
		MaxParallelDownloads:    t.cfg.conf.parallelCopies,
		Progress:                events,
		ProgressInterval:        report.DefaultProgressInterval,
		OciDecryptConfig:        t.dec.config,
	})
	stop()
	if err == nil {
		rep.Emit(progress.Event{Kind: progress.ManifestWritten, Ref: describeRef(src), Message: PathCopy})
	}
	if err != nil {
		// A local file's fault is decided here, before the retry loop.
		return nil, nil, localFault(src, fmt.Errorf("copying %s: %w", describeRef(src), engineerr.Bound(t.dec.explain(copyError(from, err)))))
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
