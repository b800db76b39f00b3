package e2e

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
)

var offered = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}

// pushMultiArch pushes a list of one image per offered platform under ref,
// as a Docker manifest list or an OCI index of OCI images.
func pushMultiArch(t *testing.T, reg *distRegistry, ref string, oci bool) map[string]v1.Image {
	t.Helper()
	imgs := map[string]v1.Image{}
	var all []v1.Image
	for _, p := range offered {
		pl := platform.MustParse(p)
		opts := []enginetest.ImageOption{enginetest.WithPlatform(pl.OS, pl.Architecture, pl.Variant),
			enginetest.WithLayer(t, enginetest.Files{"arch": p})}
		if oci {
			opts = append(opts, enginetest.OCI())
		}
		img := enginetest.NewImage(t, opts...)
		imgs[p] = img
		all = append(all, img)
	}
	idx := enginetest.NewIndex(t, all...)
	if oci {
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	}
	reg.PushIndex(t, ref, idx)
	return imgs
}

func TestPlatformChoosesTheInstance(t *testing.T) {
	t.Parallel()
	for _, kind := range []struct {
		name string
		oci  bool
	}{{"docker list", false}, {"oci index", true}} {
		t.Run(kind.name, func(t *testing.T) {
			reg := newDistribution(t)
			imgs := pushMultiArch(t, reg, "multi/app:v1", kind.oci)
			e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))

			res, err := e.Pull(context.Background(), reg.Host+"/multi/app:v1", policy.Missing,
				&engine.PullOptions{Platform: platform.MustParse("linux/arm64")})
			if err != nil {
				t.Fatal(err)
			}
			want := imgs["linux/arm64"]
			if got := res.Images[0]; got.ID != enginetest.ID(t, want) || got.Digest != enginetest.Digest(t, want) || got.Platform.String() != "linux/arm64" {
				t.Errorf("got %+v, want ID %s digest %s linux/arm64", got, enginetest.ID(t, want), enginetest.Digest(t, want))
			}
			if res.Outcome != engine.Pulled || res.Policy != policy.Newer {
				t.Errorf("outcome %v policy %v; want pulled under newer (a platform turns missing into newer)", res.Outcome, res.Policy)
			}
			// Only the arm64 instance's blobs were fetched.
			for _, r := range reg.Requests.Engine() {
				if r.Kind == manifestGet && strings.Contains(r.Path, "sha256:") && !strings.HasSuffix(r.Path, enginetest.Digest(t, want).String()) {
					t.Errorf("fetched another instance: %s", r.Path)
				}
			}
		})
	}
}

func TestPlatformNotInList(t *testing.T) {
	t.Parallel()
	reg := newDistribution(t)
	pushMultiArch(t, reg, "multi/app:v1", false)
	e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))

	_, err := e.Pull(context.Background(), reg.Host+"/multi/app:v1", policy.Missing,
		&engine.PullOptions{Platform: platform.MustParse("linux/s390x")})
	if k := pullerrors.Classify(err); k != pullerrors.PlatformNotFound {
		t.Fatalf("kind %v, want platform-not-found: %v", k, err)
	}
	if s := pullerrors.HTTPStatus(err); s != 404 {
		t.Errorf("status %d, want 404", s)
	}
	for _, want := range append([]string{"linux/s390x"}, offered...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n := reg.Requests.Count(blobGet); n != 0 {
		t.Errorf("%d blob GETs for a platform the list lacks", n)
	}
}
