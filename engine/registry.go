package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// pullFromRegistry tries the candidates for the name in order; the first
// that succeeds wins. loc is the usable local image, if any.
func (st *pullState) pullFromRegistry(ctx context.Context, loc *local, action policy.Action) error {
	candidates, err := st.pullCandidates(loc)
	if err != nil {
		if action == policy.PullIfNewer && loc != nil {
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
		err = pullerrors.Bound(err) // a registry's huge error text is not kept
		st.tried(named.String(), err)
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
	if action == policy.PullIfNewer && loc != nil && !isCanceled(ctx) {
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
		Message: fmt.Sprintf("the registry could not be checked for a newer image, using the local image %.12s: %s", loc.image.ID, pullerrors.Redact(remoteErr.Error()))})
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
func (st *pullState) tryCandidate(ctx context.Context, named reference.Named, loc *local, action policy.Action) (*storage.Image, digest.Digest, error) {
	e := st.e
	src, err := docker.NewReference(named)
	if err != nil {
		return nil, "", invalidReference(named.String(), err)
	}
	if action == policy.PullIfNewer && loc != nil {
		same, err := e.remoteMatches(ctx, &st.sys, src, loc)
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
		err = e.platformNotFound(ctx, &st.sys, src, *st.pinned, err)
	}
	if err == nil && st.pinned != nil {
		st.keepDisplaced(ctx, holder, img, named)
	}
	return img, pulled, err
}

// pullCandidates lists the registry names to try. A name that matched a
// local image is pulled under that name only (no fan-out), unless a
// platform was asked: then the local image's name says nothing about the
// platform's image and the name is resolved afresh.
func (st *pullState) pullCandidates(loc *local) ([]reference.Named, error) {
	in := st.in
	if loc != nil && loc.name != "" && st.pinned == nil {
		named, err := reference.ParseNormalizedNamed(loc.name)
		if err != nil {
			return nil, invalidReference(loc.name, err)
		}
		return []reference.Named{named}, nil
	}
	if in.qualified {
		named, err := reference.ParseNormalizedNamed(in.name)
		if err != nil {
			return nil, invalidReference(in.raw, err)
		}
		return []reference.Named{reference.TagNameOnly(named)}, nil
	}
	return resolveShortName(&st.sys, in.name)
}

// resolveShortName resolves a (possibly short) name through registries.conf
// without ever prompting: an embedded library has no terminal to ask on.
// Enforcing mode with several candidates is an error naming them.
func resolveShortName(sys *types.SystemContext, name string) ([]reference.Named, error) {
	mode, err := sysregistriesv2.GetShortNameMode(sys)
	if err != nil {
		return nil, fmt.Errorf("reading short-name mode: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	noPrompt := *sys
	disabled := types.ShortNameModeDisabled
	noPrompt.ShortNameMode = &disabled
	resolved, err := shortnames.Resolve(&noPrompt, name)
	if err != nil {
		return nil, fmt.Errorf("resolving short name %q: %w", name, pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	var names []reference.Named
	for _, c := range resolved.PullCandidates {
		names = append(names, c.Value)
	}
	if mode == types.ShortNameModeEnforcing && len(names) > 1 {
		list := make([]string, len(names))
		for i, n := range names {
			list[i] = n.String()
		}
		return nil, fmt.Errorf("short name %q is ambiguous and short-name-mode is enforcing: it could be any of %s; use a fully qualified name or add an alias in registries.conf: %w",
			name, strings.Join(list, ", "), pullerrors.ErrInvalidReference)
	}
	return names, nil
}

// remoteMatches reports whether the registry's image for src is the local
// image: first with a manifest HEAD (cheap; registries like Docker Hub do
// not count it against pull limits), then, when the digest differs and the
// manifest is a list, by the instance for the wanted platform.
func (e *Engine) remoteMatches(ctx context.Context, sys *types.SystemContext, src types.ImageReference, loc *local) (bool, error) {
	d, err := docker.GetDigest(ctx, sys, src)
	switch {
	case err == nil && hasDigest(loc.image, d):
		return true, nil
	case err == nil && !e.fromList(loc.image):
		// The digest changed and the local image did not come through a
		// manifest list, so there is no instance to compare: copy. (Should
		// the tag have become a list whose instance we hold, the copy
		// reuses every blob.)
		return false, nil
	}
	raw, mime, err := fetchManifest(ctx, sys, src)
	if err != nil {
		return false, err
	}
	if d, err = manifest.Digest(raw); err != nil {
		return false, err
	}
	if hasDigest(loc.image, d) {
		return true, nil
	}
	if !manifest.MIMETypeIsMultiImage(mime) {
		return false, nil
	}
	list, err := manifest.ListFromBlob(raw, mime)
	if err != nil {
		return false, err
	}
	instance, err := list.ChooseInstance(sys)
	if err != nil {
		return false, err
	}
	return hasDigest(loc.image, instance), nil
}

func hasDigest(img *storage.Image, d digest.Digest) bool {
	return d != "" && (img.Digest == d || slices.Contains(img.Digests, d))
}

// fetchManifest GETs src's top-level manifest.
func fetchManifest(ctx context.Context, sys *types.SystemContext, src types.ImageReference) ([]byte, string, error) {
	is, err := src.NewImageSource(ctx, sys)
	if err != nil {
		return nil, "", err
	}
	defer is.Close()
	return is.GetManifest(ctx, nil)
}
