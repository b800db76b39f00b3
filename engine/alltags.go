package engine

import (
	"context"
	"fmt"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
)

// pullAllTags pulls every tag of the repository, in the registry's order,
// with the pull's own credentials and TLS settings (Podman lists tags with
// the Runtime's, ignoring the pull's). The first failing tag stops the pull;
// tags already pulled stay in the store. Policy never is refused: listing
// tags needs the registry.
func (e *Engine) pullAllTags(ctx context.Context, sys *sysContext, in input, p policy.Policy, o *PullOptions) (*Result, error) {
	if eff, _ := policy.Effective(p, false); eff == policy.Never {
		return nil, fmt.Errorf("pulling all tags needs the registry, which policy never forbids: %w", pullerrors.ErrInvalidArgument)
	}
	named, err := reference.ParseNormalizedNamed(in.name)
	if err != nil {
		return nil, invalidReference(in.raw, err)
	}
	repo := reference.TrimNamed(named)
	if _, tagged := named.(reference.Tagged); tagged && !in.tagAdded {
		return nil, fmt.Errorf("%s: all tags were asked, so the name must not carry a tag: %w", in.raw, pullerrors.ErrInvalidArgument)
	}
	ref, err := docker.NewReference(reference.TagNameOnly(repo))
	if err != nil {
		return nil, invalidReference(in.raw, err)
	}
	tags, err := docker.GetRepositoryTags(ctx, &sys.SystemContext, ref)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	all := &Result{Reference: repo.String(), Outcome: UsedLocal}
	for _, tag := range tags {
		tagged, err := reference.WithTag(repo, tag)
		if err != nil {
			return all, invalidReference(tag, err)
		}
		one, err := e.pullName(ctx, sys, input{raw: tagged.String(), name: tagged.String(), qualified: true}, p, o)
		if one != nil {
			all.Candidates = append(all.Candidates, one.Candidates...)
			all.Policy, all.PolicyReason = one.Policy, one.PolicyReason
		}
		if err != nil {
			return all, fmt.Errorf("pulling tag %s: %w", tag, err)
		}
		all.Images = append(all.Images, one.Images...)
		all.Warnings = append(all.Warnings, one.Warnings...)
		all.Outcome = min(all.Outcome, one.Outcome) // Pulled if any tag was
	}
	return all, nil
}
