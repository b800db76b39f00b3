package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
)

// lookupRepoSuffix is the last step of libimage's local lookup
// (lookupImageInDigestsAndRepoTags): a short name that matched no
// candidate matches a stored name whose repository ends with it at a path
// boundary and whose tag (or digest) is the one asked. "bb:1" finds
// "127.0.0.1:5555/team/bb:1", "team/bb:1" too, "b:1" does not. The
// first match in the store's order wins, as in libimage.
func (st *pullState) lookupRepoSuffix(ctx context.Context, name string) (*local, error) {
	if !shortnames.IsShortName(name) {
		return nil, nil
	}
	parsed, err := reference.Parse(name)
	if err != nil {
		return nil, nil
	}
	asked, ok := parsed.(reference.Named)
	if !ok {
		return nil, nil
	}
	asked = reference.TagNameOnly(asked)
	var tag string
	var dgst digest.Digest
	if d, ok := asked.(reference.Digested); ok {
		dgst = d.Digest()
	} else if t, ok := asked.(reference.NamedTagged); ok {
		tag = t.Tag()
	}
	images, err := st.e.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing local images: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	for _, img := range images {
		for _, stored := range img.Names {
			candidate := suffixMatch(stored, asked.Name(), tag, dgst)
			if candidate == nil {
				continue
			}
			l, err := st.lookupName(ctx, candidate)
			if err != nil {
				return nil, err
			}
			if fits(l, st.pinned) {
				return l, nil
			}
		}
	}
	return nil, nil
}

// suffixMatch returns the name to look up when the stored name's
// repository ends with repo at a path boundary and carries tag (or, for a
// digest, any tag: the digest is checked by the lookup), else nil.
func suffixMatch(stored, repo, tag string, dgst digest.Digest) reference.Named {
	named, err := reference.ParseNormalizedNamed(stored)
	if err != nil {
		return nil
	}
	storedRepo := named.Name()
	if storedRepo != repo && !strings.HasSuffix(storedRepo, "/"+repo) {
		return nil
	}
	if dgst != "" {
		canonical, err := reference.WithDigest(reference.TrimNamed(named), dgst)
		if err != nil {
			return nil
		}
		return canonical
	}
	if t, ok := named.(reference.NamedTagged); !ok || t.Tag() != tag {
		return nil
	}
	return named
}
