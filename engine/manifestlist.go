package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/storage"
)

// pullPlatforms stores a manifest list and its instances: every instance
// with AllPlatforms, else the one chosen for each of o.Platforms. Each
// instance becomes an image named repo@<instance digest>; the list itself
// is stored as an image (no layers, the list as its manifest) under the
// name asked, as Podman's manifest lists are, so `podman manifest inspect`
// style tools work offline, and a later lookup of the name resolves to the
// instance for the platform wanted.
//
// Policy never was refused before (dispatch: the list is on the registry);
// under every other policy instances already stored are reused
// layer by layer.
func (st *pullState) pullPlatforms(ctx context.Context) error {
	candidates, err := st.pullCandidates(nil)
	if err != nil {
		return err
	}
	st.setPolicy(st.policy, "")
	var errs []error
	for _, named := range candidates {
		err := st.pullList(ctx, named)
		st.tried(named, err)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return joinCandidateErrors(errs)
}

// pullList fetches named's manifest list, copies the instances wanted, and
// stores the list.
func (st *pullState) pullList(ctx context.Context, named reference.Named) error {
	src, err := docker.NewReference(named)
	if err != nil {
		return invalidReference(named.String(), err)
	}
	top, err := st.fetchTopManifest(ctx, src)
	if err != nil {
		return err
	}
	if top.list == nil {
		return pullerrors.Errorf(pullerrors.Unsupported, "%s is a single image, not a manifest list", named)
	}
	instances, err := chooseInstances(top.list, &st.o)
	if err != nil {
		return fmt.Errorf("%s: %w", named, err)
	}
	var images []Image
	for _, d := range instances {
		img, err := st.pullInstance(ctx, named, d)
		if err != nil {
			return err
		}
		images = append(images, st.describe(ctx, img, d))
	}
	listID, err := st.e.storeList(named, top.raw)
	if err != nil {
		return err
	}
	st.finishList(named.String(), images, listID)
	return nil
}

// pullInstance copies one instance under repo@digest.
func (st *pullState) pullInstance(ctx context.Context, named reference.Named, d digest.Digest) (*storage.Image, error) {
	digested, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return nil, invalidReference(named.String(), err)
	}
	src, err := docker.NewReference(digested)
	if err != nil {
		return nil, invalidReference(digested.String(), err)
	}
	img, _, err := st.copyToStore(ctx, src, digested.String())
	return img, err
}

// chooseInstances lists the digests to copy: all, or the instance c/image
// would choose for each requested platform (once each).
func chooseInstances(list manifest.List, o *PullOptions) ([]digest.Digest, error) {
	all := list.Instances()
	if o.AllPlatforms {
		return all, nil
	}
	var offered []platform.Platform
	for _, d := range all {
		info, err := list.Instance(d)
		if err != nil {
			return nil, err
		}
		var p platform.Platform
		if info.ReadOnly.Platform != nil {
			p = platform.FromOCI(*info.ReadOnly.Platform)
		}
		offered = append(offered, p)
	}
	var out []digest.Digest
	for _, want := range o.Platforms {
		i, ok := platform.Choose(platform.Normalize(want), offered)
		if !ok {
			return nil, pullerrors.Errorf(pullerrors.PlatformNotFound, "no image for %s in the manifest list", want)
		}
		if !slices.Contains(out, all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// storeList stores the list as a layerless image named like the pull, or
// updates the one that already holds that digest.
func (e *Engine) storeList(named reference.Named, raw []byte) (string, error) {
	d, err := manifest.Digest(raw)
	if err != nil {
		return "", err
	}
	name := reference.TagNameOnly(named).String()
	key := manifestKey(d)
	imgs, _ := e.store.ImagesByDigest(d)
	for _, img := range imgs {
		if _, err := e.store.ImageBigData(img.ID, key); err == nil && img.TopLayer == "" {
			return img.ID, e.store.AddNames(img.ID, []string{name})
		}
	}
	img, err := e.store.CreateImage("", []string{name}, "", "", &storage.ImageOptions{
		Digest:  d,
		BigData: []storage.ImageBigDataOption{{Key: key, Data: raw, Digest: d}, {Key: storage.ImageDigestBigDataKey, Data: raw, Digest: d}},
	})
	if err != nil {
		return "", fmt.Errorf("storing the manifest list of %s: %w", named, pullerrors.Wrap(pullerrors.Storage, err))
	}
	return img.ID, nil
}
