package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"go.podman.io/image/v5/types"
)

// Annotations naming an image in an OCI index: containerd's (BuildKit
// writes the full name there) wins over the OCI ref name.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = imgspecv1.AnnotationRefName
)

// pullTransport copies from a non-registry source. Sources are local files,
// layouts, stores or a daemon, so the policy does not gate the copy
// (decide.Decide answers Pull for RequestTransport): it always runs, and
// reuses layers already stored.
func (st *pullState) pullTransport(ctx context.Context) error {
	e, ref := st.e, st.in.transportRef
	st.setPolicy(st.policy, "")
	src, err := openSource(&st.sys, ref, e.limits.maxExtract())
	if err != nil {
		return localFault(ref, err)
	}
	defer src.close()
	var dest string
	if len(src.names) > 0 {
		dest = src.names[0]
	} else {
		id, err := configID(ctx, &st.sys, src.ref)
		if err != nil {
			return st.sourceError(ctx, src.ref, localFault(src.ref, err))
		}
		dest = "@" + id
	}
	img, pulled, err := st.copyToStore(ctx, src.ref, dest)
	if err != nil {
		return st.sourceError(ctx, src.ref, err)
	}
	if len(src.names) > 1 {
		// One copy serves every name (docker-archive RepoTags): the image
		// is the same, so the other names are added to it. (libimage copies
		// once per name and returns the same image N times.)
		if err := e.store.AddNames(img.ID, src.names[1:]); err != nil {
			return fmt.Errorf("naming image %s: %w", img.ID, pullerrors.Wrap(pullerrors.Storage, err))
		}
		if img, err = e.store.Image(img.ID); err != nil {
			return fmt.Errorf("reading image %s: %w", img.ID, pullerrors.Wrap(pullerrors.Storage, err))
		}
	}
	st.finishPulled(ctx, describeRef(ref), img, pulled)
	return nil
}

// sourceError classifies a failure to read or copy a non-registry source
// where the generic classification would mislead: a multi-arch source
// without the asked platform lists the platforms it offers, and a Docker
// daemon that cannot be reached is Unavailable (its absent socket is an
// ENOENT, which would read as "image not found").
func (st *pullState) sourceError(ctx context.Context, ref types.ImageReference, err error) error {
	switch {
	case st.pinned != nil && pullerrors.Classify(err) == pullerrors.PlatformNotFound:
		return st.platformNotFound(ctx, ref, err)
	case ref.Transport().Name() == "docker-daemon" && isDialError(err):
		return pullerrors.Wrap(pullerrors.Unavailable, err)
	}
	return err
}

// localFiles are the transports that read the client's files (not a
// store, not a daemon).
var localFiles = map[string]bool{"oci-archive": true, "docker-archive": true, "oci": true, "dir": true, "tarball": true, "sif": true}

// localFault reclassifies the failure of reading a local file source. A
// file cut short fails with io.ErrUnexpectedEOF, and one that does not
// hash to its digest with a digest mismatch: Unavailable and Integrity,
// the transient kinds of a registry's body, retried. A file is no
// registry, and read again it is cut or corrupt the same way: Integrity,
// final. Other failures (a missing file, a bad choice, storage) are left
// as they are. err must name the source (the message adds no path).
func localFault(ref types.ImageReference, err error) error {
	if err == nil || !localFiles[ref.Transport().Name()] {
		return err
	}
	if k := pullerrors.Classify(err); k != pullerrors.Unavailable && k != pullerrors.Integrity {
		return err
	}
	if !strings.Contains(err.Error(), describeRef(ref)) {
		err = fmt.Errorf("reading %s: %w", describeRef(ref), err)
	}
	return engineerr.Final(pullerrors.Errorf(pullerrors.Integrity, "the local source is corrupt or truncated: %w", err))
}

// isDialError reports a failure to connect (not a failure reported by a
// daemon that answered).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// configID is the ID an unnamed image gets: its config digest's hex (the
// instance chosen for the pull's platform, for a multi-arch source).
func configID(ctx context.Context, sys *types.SystemContext, src types.ImageReference) (string, error) {
	img, err := src.NewImage(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", describeRef(src), err)
	}
	defer img.Close()
	return img.ConfigInfo().Digest.Encoded(), nil
}
