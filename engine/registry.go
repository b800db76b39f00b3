package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/decide"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/safetext"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// pullFromRegistry tries the candidates for the name in order; the first
// that succeeds wins. loc is the usable local image, if any.
func (st *pullState) pullFromRegistry(ctx context.Context, loc *local, action decide.Action) error {
	candidates, err := st.pullCandidates(loc)
	if err != nil {
		if action == decide.PullIfNewer && loc != nil {
			st.fallBack(loc, err)
			return nil
		}
		return err
	}
	var errs []error
	for _, named := range candidates {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, pulled, err := st.tryCandidate(ctx, named, loc, action)
		err = engineerr.Bound(err) // a registry's huge error text is not kept
		st.tried(named, err)
		if err != nil {
			st.e.log.DebugContext(ctx, "candidate failed", "candidate", named.String(), "err", errAttr(err))
			errs = append(errs, err)
			continue
		}
		if img == nil { // the registry has what we have
			st.finishLocal(named.String(), loc, UpToDate, nil)
		} else {
			st.finishPulled(ctx, named.String(), img, pulled)
		}
		return nil
	}
	remoteErr := joinCandidateErrors(errs)
	if action == decide.PullIfNewer && loc != nil && !isCanceled(ctx) {
		st.e.log.WarnContext(ctx, "registry failed, using the local image", "image", loc.image.ID, "err", errAttr(remoteErr))
		st.fallBack(loc, remoteErr)
		return nil
	}
	return remoteErr
}

// fallBack uses the local image after the registry failed under policy
// newer, and tells the progress sink why (Result.RemoteErr says it too).
func (st *pullState) fallBack(loc *local, remoteErr error) {
	st.rep.Emit(progress.Event{Kind: progress.Warning, Ref: loc.name,
		Message: fmt.Sprintf("the registry could not be checked for a newer image, using the local image %.12s: %s", loc.image.ID, safetext.Redact(remoteErr.Error()))})
	st.finishLocal(loc.reference(), loc, LocalFallback, remoteErr)
}

func isCanceled(ctx context.Context) bool { return ctx.Err() != nil }

// joinCandidateErrors returns the single error as is, several joined so
// errors.Is/As reach each.
func joinCandidateErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// tryCandidate pulls one candidate. Under PullIfNewer it first compares the
// registry's digest with the local image's and returns a nil image when they
// match.
func (st *pullState) tryCandidate(ctx context.Context, named reference.Named, loc *local, action decide.Action) (*storage.Image, digest.Digest, error) {
	e := st.e
	src, err := docker.NewReference(named)
	if err != nil {
		return nil, "", invalidReference(named.String(), err)
	}
	if action == decide.PullIfNewer && loc != nil {
		same, err := st.remoteMatches(ctx, src, loc)
		if err != nil {
			return nil, "", err
		}
		if same {
			return nil, "", nil
		}
	}
	st.rep.Emit(progress.Event{Kind: progress.TryingCandidate, Ref: named.String()})
	var holder *storage.Image // only a platform pull can displace another platform's image
	if st.pinned != nil {
		holder = e.nameHolder(named)
	}
	img, pulled, err := st.copyToStore(ctx, src, named.String())
	if err != nil && st.pinned != nil && pullerrors.Classify(err) == pullerrors.PlatformNotFound {
		err = st.platformNotFound(ctx, src, err)
	}
	if err == nil && st.pinned != nil {
		st.keepDisplaced(ctx, holder, img, named)
	}
	return img, pulled, err
}

// topManifest is a registry's top-level manifest: its bytes, and the list
// they parse to when it is a manifest list (nil for a single image).
type topManifest struct {
	raw  []byte
	list manifest.List
}

// fetchTopManifest GETs src's top-level manifest and parses it when it is
// a list. A list that does not parse is an Integrity error.
func (st *pullState) fetchTopManifest(ctx context.Context, src types.ImageReference) (topManifest, error) {
	is, err := src.NewImageSource(ctx, &st.sys)
	if err != nil {
		return topManifest{}, err
	}
	defer is.Close()
	raw, mime, err := is.GetManifest(ctx, nil)
	if err != nil {
		return topManifest{}, err
	}
	top := topManifest{raw: raw}
	if !manifest.MIMETypeIsMultiImage(mime) {
		return top, nil
	}
	if top.list, err = manifest.ListFromBlob(raw, mime); err != nil {
		return topManifest{}, pullerrors.Errorf(pullerrors.Integrity, "parsing the manifest list of %s: %w", describeRef(src), err)
	}
	return top, nil
}
