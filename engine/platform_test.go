package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// multiArch pushes a list of amd64, arm64 and arm/v7 images under ref and
// returns the images by platform string.
func multiArch(t *testing.T, reg *enginetest.Registry, ref string) map[string]v1.Image {
	t.Helper()
	imgs := map[string]v1.Image{}
	var all []v1.Image
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		pl := platform.MustParse(p)
		img := enginetest.NewImage(t, enginetest.WithPlatform(pl.OS, pl.Architecture, pl.Variant),
			enginetest.WithLayer(t, enginetest.Files{"arch": p}))
		imgs[p] = img
		all = append(all, img)
	}
	reg.PushIndex(t, ref, all...)
	return imgs
}

// multiArchSetup is a registry holding the multi-arch list multi/app:v1, an
// Engine that trusts it, and the list's reference.
func multiArchSetup(t *testing.T) (reg *enginetest.Registry, imgs map[string]v1.Image, e *engine.Engine, ref string) {
	t.Helper()
	reg = enginetest.NewRegistry(t)
	imgs = multiArch(t, reg, "multi/app:v1")
	e = enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	return reg, imgs, e, reg.Host + "/multi/app:v1"
}

func pullOpts(p string) *engine.PullOptions {
	return &engine.PullOptions{Platform: platform.MustParse(p)}
}

func TestPlatformPullChoosesTheInstance(t *testing.T) {
	_, imgs, e, ref := multiArchSetup(t)
	ctx := context.Background()

	for _, p := range []string{"linux/arm64", "linux/arm/v7", "linux/amd64"} {
		res, err := e.Pull(ctx, ref, policy.Missing, pullOpts(p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := res.Images[0]; got.ID != enginetest.ID(t, imgs[p]) || got.Platform.String() != p || got.Digest != enginetest.Digest(t, imgs[p]) {
			t.Errorf("%s: got %+v, want ID %s", p, got, enginetest.ID(t, imgs[p]))
		}
		if res.Policy != policy.Newer || res.PolicyReason == "" {
			t.Errorf("%s: policy %v (%q); a platform turns missing into newer and says why", p, res.Policy, res.PolicyReason)
		}
		if len(res.Warnings) != 0 && !strings.Contains(strings.Join(res.Warnings, " "), "now names") {
			t.Errorf("%s: unexpected warnings %v", p, res.Warnings)
		}
	}
}

func TestPlatformNotInListListsOffered(t *testing.T) {
	_, _, e, ref := multiArchSetup(t)

	_, err := e.Pull(context.Background(), ref, policy.Missing, pullOpts("linux/s390x"))
	if k := pullerrors.Classify(err); k != pullerrors.PlatformNotFound {
		t.Fatalf("kind %v, want platform-not-found: %v", k, err)
	}
	if pullerrors.HTTPStatus(err) != 404 {
		t.Errorf("status %d, want 404", pullerrors.HTTPStatus(err))
	}
	for _, want := range []string{"linux/s390x", "linux/amd64, linux/arm64, linux/arm/v7"} {
		if n := strings.Count(err.Error(), want); n != 1 {
			t.Errorf("error %q contains %q %d times, want once", err, want, n)
		}
	}
}

// An instance whose config declares another platform than its list entry
// is pulled, with a warning.
func TestPlatformMismatchIsAWarning(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	liar := enginetest.NewImage(t, enginetest.WithPlatform("linux", "amd64", ""), enginetest.WithLayer(t, enginetest.Files{"a": "1"}))
	// The list says arm64, the config amd64.
	reg.PushIndexEntries(t, "liar/app:v1", enginetest.IndexEntry{Image: liar, OS: "linux", Architecture: "arm64"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))

	res, err := e.Pull(context.Background(), reg.Host+"/liar/app:v1", policy.Always, pullOpts("linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "does not match the expected platform (linux/arm64)") {
		t.Errorf("warnings %q; want one about the declared platform", res.Warnings)
	}
	if res.Images[0].Platform.String() != "linux/amd64" {
		t.Errorf("platform %v; Image.Platform is what the config declares", res.Images[0].Platform)
	}
}

// Newer with a platform compares the instance's digest: a list that
// changed only for another architecture is up to date, with no blob sent.
func TestNewerWithPlatformComparesTheInstance(t *testing.T) {
	reg, before, e, ref := multiArchSetup(t)
	ctx := context.Background()
	if _, err := e.Pull(ctx, ref, policy.Always, pullOpts("linux/arm64")); err != nil {
		t.Fatal(err)
	}

	// A new list: amd64 rebuilt, arm64 unchanged.
	amd := enginetest.NewImage(t, enginetest.WithPlatform("linux", "amd64", ""), enginetest.WithLayer(t, enginetest.Files{"arch": "rebuilt"}))
	reg.PushIndex(t, "multi/app:v1", amd, before["linux/arm64"], before["linux/arm/v7"])
	reg.Requests.Reset()

	res, err := e.Pull(ctx, ref, policy.Newer, pullOpts("linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.UpToDate || res.Images[0].ID != enginetest.ID(t, before["linux/arm64"]) {
		t.Errorf("got %v %s; want up-to-date arm64", res.Outcome, res.Images[0].ID)
	}
	if n := reg.Requests.Count(enginetest.BlobGet); n != 0 {
		t.Errorf("%d blob GETs for an up-to-date instance", n)
	}
	// The same for amd64 finds the change.
	res, err = e.Pull(ctx, ref, policy.Newer, pullOpts("linux/amd64"))
	if err != nil || res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, amd) {
		t.Errorf("amd64 after rebuild: %+v, %v; want the rebuilt image pulled", res, err)
	}
}

// Pulling a tag for arm64 after amd64 moves the tag (a tag names one image)
// and keeps the amd64 image addressable by repo@digest.
func TestTwoPlatformsOfOneTagStayAddressable(t *testing.T) {
	reg, imgs, e, ref := multiArchSetup(t)
	ctx := context.Background()
	if _, err := e.Pull(ctx, ref, policy.Always, pullOpts("linux/amd64")); err != nil {
		t.Fatal(err)
	}
	res, err := e.Pull(ctx, ref, policy.Always, pullOpts("linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	amdDigest := reg.Host + "/multi/app@" + enginetest.Digest(t, imgs["linux/amd64"]).String()
	if !strings.Contains(strings.Join(res.Warnings, " "), amdDigest) {
		t.Errorf("warnings %q do not say where the amd64 image went (%s)", res.Warnings, amdDigest)
	}
	got, err := e.Pull(ctx, amdDigest, policy.Never, nil)
	if err != nil || got.Images[0].ID != enginetest.ID(t, imgs["linux/amd64"]) {
		t.Fatalf("amd64 by digest: %+v, %v", got, err)
	}
	got, err = e.Pull(ctx, ref, policy.Never, nil)
	if err != nil || got.Images[0].ID != enginetest.ID(t, imgs["linux/arm64"]) {
		t.Errorf("the tag: %+v, %v; want the arm64 image", got, err)
	}
}

// Never with a platform uses a local image only if it matches; without a
// platform the local image is used whatever it declares.
func TestNeverWithPlatform(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	ref := reg.Host + "/one/app:v1"
	reg.PushImage(t, "one/app:v1", enginetest.NewImage(t, enginetest.WithPlatform("linux", "arm64", "")))
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	res, err := e.Pull(ctx, ref, policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host := platform.Host(); host.Architecture != "arm64" && len(res.Warnings) != 1 {
		t.Errorf("warnings %q; an arm64 image on %s should warn", res.Warnings, host)
	}
	reg.Requests.Reset()

	if _, err := e.Pull(ctx, ref, policy.Never, pullOpts("linux/s390x")); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("never + another platform: %v; want image not known", err)
	}
	if res, err := e.Pull(ctx, ref, policy.Never, pullOpts("linux/arm64")); err != nil || res.Outcome != engine.UsedLocal {
		t.Errorf("never + matching platform: %+v, %v", res, err)
	}
	if res, err := e.Pull(ctx, ref, policy.Missing, nil); err != nil || res.Outcome != engine.UsedLocal {
		t.Errorf("missing without platform: %+v, %v; the host platform does not filter", res, err)
	}
	if n := reg.Requests.Total(); n != 0 {
		t.Errorf("%d requests under never/missing with a local image", n)
	}
}

// AllPlatforms stores the list and every instance; afterwards each
// platform's image is found offline by the name.
func TestAllPlatformsWorksOffline(t *testing.T) {
	reg, imgs, e, ref := multiArchSetup(t)
	ctx := context.Background()

	res, err := e.Pull(ctx, ref, policy.Missing, &engine.PullOptions{AllPlatforms: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 3 || res.ManifestList == "" || res.Outcome != engine.Pulled {
		t.Fatalf("got %d images, list %q, outcome %v; want 3 instances and the list", len(res.Images), res.ManifestList, res.Outcome)
	}
	for _, img := range res.Images {
		if img.ID != enginetest.ID(t, imgs[img.Platform.String()]) {
			t.Errorf("instance %+v does not match the pushed %s image", img, img.Platform)
		}
	}

	reg.Down()
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		got, err := e.Pull(ctx, ref, policy.Never, pullOpts(p))
		if err != nil || got.Images[0].ID != enginetest.ID(t, imgs[p]) {
			t.Errorf("offline %s: %+v, %v", p, got, err)
		}
	}
	host := platform.Host().String()
	if want, ok := imgs[host]; ok {
		got, err := e.Pull(ctx, ref, policy.Missing, nil)
		if err != nil || got.Images[0].ID != enginetest.ID(t, want) {
			t.Errorf("offline without platform: %+v, %v; want the host's instance", got, err)
		}
	}
}

func TestPlatformsSubset(t *testing.T) {
	_, imgs, e, ref := multiArchSetup(t)
	opts := &engine.PullOptions{Platforms: []platform.Platform{platform.MustParse("linux/arm64"), platform.MustParse("linux/arm/v7"), platform.MustParse("linux/aarch64")}}

	res, err := e.Pull(context.Background(), ref, policy.Always, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 || res.Images[0].ID != enginetest.ID(t, imgs["linux/arm64"]) || res.Images[1].ID != enginetest.ID(t, imgs["linux/arm/v7"]) {
		t.Errorf("images %+v; want arm64 then arm/v7, once each", res.Images)
	}
	opts.Platforms = []platform.Platform{platform.MustParse("linux/s390x")}
	if _, err := e.Pull(context.Background(), ref, policy.Always, opts); pullerrors.Classify(err) != pullerrors.PlatformNotFound {
		t.Errorf("absent platform: %v; want platform-not-found", err)
	}
}
