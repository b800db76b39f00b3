package engine

import (
	"context"
	"fmt"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"go.podman.io/image/v5/types"
)

// platformNotFound rewrites c/image's "no image found in manifest list"
// into an error that says which platforms the list offers, so the user sees
// at once whether a typo or a missing build is to blame. It costs one more
// manifest GET, on the failure path only. The pull has pinned a platform.
func (st *pullState) platformNotFound(ctx context.Context, src types.ImageReference, cause error) error {
	want := *st.pinned
	offered, err := st.listPlatforms(ctx, src)
	if err != nil || len(offered) == 0 {
		return cause
	}
	return fmt.Errorf("%s has no image for %s; its manifest list offers %s: %w",
		describeRef(src), want, strings.Join(offered, ", "), pullerrors.Wrap(pullerrors.PlatformNotFound, cause))
}

// listPlatforms returns the platforms of the manifest list src names.
func (st *pullState) listPlatforms(ctx context.Context, src types.ImageReference) ([]string, error) {
	top, err := st.fetchTopManifest(ctx, src)
	if err != nil || top.list == nil {
		return nil, err
	}
	var out []string
	for _, d := range top.list.Instances() {
		info, err := top.list.Instance(d)
		if err != nil || info.ReadOnly.Platform == nil {
			continue
		}
		out = append(out, platform.FromOCI(*info.ReadOnly.Platform).String())
	}
	return out, nil
}
