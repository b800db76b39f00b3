package engine

import (
	"context"
	"fmt"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/decide"
	"github.com/pullengine/pullengine/internal/engineerr"
	"go.podman.io/image/v5/docker/reference"
)

// pullAllTags pulls every tag of the repository, in the registry's order,
// with the pull's own credentials and TLS settings (Podman lists tags with
// the Runtime's, ignoring the pull's). The first failing tag stops the pull;
// tags already pulled stay in the store. Policy never was refused before
// (dispatch): listing tags needs the registry. The listing is bounded.
func (st *pullState) pullAllTags(ctx context.Context) error {
	in := st.in
	named, err := reference.ParseNormalizedNamed(in.name)
	if err != nil {
		return invalidReference(in.raw, err)
	}
	repo := reference.TrimNamed(named)
	if _, tagged := named.(reference.Tagged); tagged && !in.tagAdded {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "%s: all tags were asked, so the name must not carry a tag", in.raw)
	}
	tags, err := st.listTags(ctx, repo)
	if err != nil {
		return err
	}
	st.startTags(repo.String())
	for _, tag := range tags {
		tagged, err := reference.WithTag(repo, tag)
		if err != nil {
			return invalidReference(tag, err)
		}
		one := st.forTag(tagged)
		err = one.pullName(ctx)
		st.addTag(one, err == nil)
		if err != nil {
			return fmt.Errorf("pulling tag %s: %w", tag, err)
		}
	}
	return nil
}

// forTag is the state of the pull of one tag of an AllTags pull: the same
// options and progress, its own input and Result.
func (st *pullState) forTag(tagged reference.Named) *pullState {
	one := *st
	one.in = input{raw: tagged.String(), name: tagged.String(), qualified: true}
	one.res = Result{}
	one.request = decide.RequestOne
	return &one
}

// listTags lists repo's tags within the resolved MaxTags and the page and
// byte limits of the tag lister.
func (st *pullState) listTags(ctx context.Context, repo reference.Named) ([]string, error) {
	tags, err := listTags(ctx, &st.sys, repo, st.maxTags)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, engineerr.Bound(err))
	}
	return tags, nil
}
