package engine

// Building the Result. The steps of a pull record here, and only here,
// what they decided and what they produced; report (pull.go) hands the
// Result out.

import (
	"context"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/storage"
)

// setPolicy records the policy that applies and why it differs from the
// one asked, if it does.
func (st *pullState) setPolicy(p policy.Policy, reason string) {
	st.res.Policy, st.res.PolicyReason = p, reason
}

// tried records a candidate name and its error (nil: it worked); for a
// failed one, whether credentials were sent to the registry that refused.
func (st *pullState) tried(named reference.Named, err error) {
	c := pullerrors.CandidateError{Name: named.String(), Err: err}
	if err != nil {
		c.Authenticated = sendsCredentials(&st.sys, named)
	}
	st.res.Candidates = append(st.res.Candidates, c)
}

// finishLocal ends the pull with the local image loc, reached as
// reference: used without asking the registry (UsedLocal), found equal to
// the registry's (UpToDate), or used because the registry failed
// (LocalFallback, with that failure as remoteErr). It is the one way a
// pull ends with a local image.
func (st *pullState) finishLocal(reference string, loc *local, outcome Outcome, remoteErr error) {
	st.res.Outcome, st.res.Reference, st.res.RemoteErr = outcome, reference, remoteErr
	st.res.Images = []Image{st.e.describeLocal(loc)}
}

// finishPulled ends the pull with the image a copy from reference stored
// (pulled is the digest of the manifest copied), warning when its config
// declares another platform than expected.
func (st *pullState) finishPulled(ctx context.Context, reference string, img *storage.Image, pulled digest.Digest) {
	desc := st.describe(ctx, img, pulled)
	st.res.Outcome, st.res.Reference, st.res.Images = Pulled, reference, []Image{desc}
	st.checkPlatform(desc)
}

// finishList ends a pull of several platforms: images are the instances
// stored, listID the stored manifest list.
func (st *pullState) finishList(reference string, images []Image, listID string) {
	st.res.Outcome, st.res.Reference = Pulled, reference
	st.res.Images, st.res.ManifestList = images, listID
}

// startTags begins an AllTags pull of repo: nothing pulled yet.
func (st *pullState) startTags(repo string) {
	st.res.Reference, st.res.Outcome = repo, UsedLocal
}

// addTag folds the pull of one tag (a pullState of its own) into an
// AllTags pull: its candidates, policy and warnings always, its images
// when it succeeded. The outcome is Pulled if any tag was.
func (st *pullState) addTag(tag *pullState, ok bool) {
	st.res.Candidates = append(st.res.Candidates, tag.res.Candidates...)
	st.res.Policy, st.res.PolicyReason = tag.res.Policy, tag.res.PolicyReason
	st.res.Warnings = append(st.res.Warnings, tag.res.Warnings...)
	if ok {
		st.res.Images = append(st.res.Images, tag.res.Images...)
		st.res.Outcome = min(st.res.Outcome, tag.res.Outcome)
	}
}
