package engine_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

func TestAllTags(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	ids := map[string]string{}
	for _, tag := range []string{"v1", "v2", "v3"} {
		ids[tag] = enginetest.ID(t, reg.Push(t, "team/app:"+tag, enginetest.Files{"tag": tag}))
	}
	reg.Push(t, "team/other:v1", enginetest.Files{"x": "y"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()

	res, err := e.Pull(ctx, reg.Host+"/team/app", policy.Missing, &engine.PullOptions{AllTags: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 3 || res.Outcome != engine.Pulled {
		t.Fatalf("got %d images, outcome %v; want 3 pulled", len(res.Images), res.Outcome)
	}
	for _, img := range res.Images {
		tag := img.Names[0][len(img.Names[0])-2:]
		if ids[tag] != img.ID {
			t.Errorf("image %+v: want ID %s for tag %s", img, ids[tag], tag)
		}
	}
	if n := reg.Requests.Count(enginetest.TagsList); n != 1 {
		t.Errorf("%d tag listings, want 1", n)
	}

	// Not for other transports, and not with policy never.
	if _, err := e.Pull(ctx, "oci-archive:../testdata/hello.oci.tar", policy.Always, &engine.PullOptions{AllTags: true}); pullerrors.Classify(err) != pullerrors.Unsupported {
		t.Errorf("AllTags on oci-archive: %v; want unsupported", err)
	}
	if _, err := e.Pull(ctx, reg.Host+"/team/app", policy.Never, &engine.PullOptions{AllTags: true}); pullerrors.Classify(err) != pullerrors.InvalidArgument {
		t.Errorf("AllTags with never: %v; want invalid-argument", err)
	}
}

// A registries.conf mirror serves the pull; the primary is not needed.
func TestMirrorServesThePull(t *testing.T) {
	primary, mirror := enginetest.NewRegistry(t), enginetest.NewRegistry(t)
	img := mirror.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	primary.Down()
	conf := fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n", primary.Host, mirror.Host)
	e := enginetest.NewEngine(t, enginetest.WithRegistriesConf(conf))

	res, err := e.Pull(context.Background(), primary.Host+"/team/app:v1", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID != enginetest.ID(t, img) || res.Reference != primary.Host+"/team/app:v1" {
		t.Errorf("got %+v; want %s stored as the primary's name", res, enginetest.ID(t, img))
	}
	if !slices.Contains(res.Images[0].Names, primary.Host+"/team/app:v1") {
		t.Errorf("names %v lack the primary's name", res.Images[0].Names)
	}
	if mirror.Requests.Count(enginetest.BlobGet) == 0 {
		t.Error("the mirror served no blob")
	}
}

// TLS verification is on unless registries.conf or the pull turns it off:
// a plain-HTTP registry not marked insecure fails with a TLS error, and
// TLSVerify=false makes it work.
func TestTLSVerifyOption(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t) // reg is not marked insecure
	ctx := context.Background()

	_, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Always, nil)
	if k := pullerrors.Classify(err); k != pullerrors.TLS {
		t.Errorf("plain HTTP with verification on: kind %v, want tls: %v", k, err)
	}
	off := false
	if _, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Always, &engine.PullOptions{TLSVerify: &off}); err != nil {
		t.Errorf("TLSVerify=false: %v", err)
	}
}

// A corrupted local image is repaired by the pull and readable afterwards.
func TestCorruptedImageIsRepaired(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	ref := reg.Host + "/team/app:v1"
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	seed(t, opts, ref)
	corruptLayers(t, opts.RootDir)
	e := newEngine(t, opts)
	ctx := context.Background()

	res, err := e.Pull(ctx, ref, policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) || len(res.Warnings) == 0 {
		t.Errorf("got %+v; want the image pulled again with a warning about the corruption", res)
	}
	res, err = e.Pull(ctx, ref, policy.Never, nil)
	if err != nil || res.Outcome != engine.UsedLocal {
		t.Errorf("after repair, never = %+v, %v; want the local image", res, err)
	}
}

// The engine never changes the caller's options.
func TestPullDoesNotMutateOptions(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	opts := &engine.PullOptions{}
	before := *opts
	if _, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Missing, opts); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", *opts) != fmt.Sprintf("%+v", before) {
		t.Errorf("options changed: %+v → %+v", before, *opts)
	}
}
