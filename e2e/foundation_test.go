package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

func TestPullQualifiedName(t *testing.T) {
	t.Parallel()
	reg := newDistribution(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))
	ref := reg.Host + "/team/app:v1"

	res, err := e.Pull(context.Background(), ref, policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Pulled || res.Reference != ref {
		t.Errorf("outcome %v reference %q; want pulled %q", res.Outcome, res.Reference, ref)
	}
	if got := res.Images[0]; got.ID != enginetest.ID(t, img) || got.Digest != enginetest.Digest(t, img) || !slices.Contains(got.Names, ref) {
		t.Errorf("image %+v; want ID %s digest %s named %s", got, enginetest.ID(t, img), enginetest.Digest(t, img), ref)
	}
	if n := reg.Requests.Count(blobGet); n != 2 { // the config and the layer
		t.Errorf("%d blob GETs, want 2: %v", n, reg.Requests.Engine())
	}
}

// A short name goes through the unqualified-search registries in order;
// distribution's MANIFEST_UNKNOWN/NAME_UNKNOWN on the first lets the second
// serve it.
func TestPullShortNameSearchesInOrder(t *testing.T) {
	t.Parallel()
	first, second := newDistribution(t), newDistribution(t)
	img := second.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := newEngine(t, enginetest.WithRegistryHost(first.Host), enginetest.WithRegistryHost(second.Host))

	res, err := e.Pull(context.Background(), "team/app:v1", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := second.Host + "/team/app:v1"; res.Reference != want || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("got %s %s, want %s %s", res.Reference, res.Images[0].ID, want, enginetest.ID(t, img))
	}
	if len(res.Candidates) != 2 || res.Candidates[0].Err == nil || res.Candidates[1].Err != nil {
		t.Fatalf("candidates %+v: want the first failed, the second succeeded", res.Candidates)
	}
	if k := pullerrors.Classify(res.Candidates[0].Err); k != pullerrors.NotFound {
		t.Errorf("first candidate's kind %v, want not-found: %v", k, res.Candidates[0].Err)
	}
}

func TestPullShortNameAlias(t *testing.T) {
	t.Parallel()
	search, target := newDistribution(t), newDistribution(t)
	img := target.Push(t, "real/name:latest", enginetest.Files{"a": "1"})
	e := newEngine(t, enginetest.WithRegistryHost(search.Host),
		enginetest.WithAlias("nick", target.Host+"/real/name"), enginetest.WithInsecureRegistry(target.Host))

	res, err := e.Pull(context.Background(), "nick", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := target.Host + "/real/name:latest"; res.Reference != want || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("got %s %s, want %s", res.Reference, res.Images[0].ID, want)
	}
	if n := len(search.Requests.Engine()); n != 0 {
		t.Errorf("the search registry saw %d requests; an alias must not fan out", n)
	}
}

// name:tag@digest pulls the digest; the tag is dropped.
func TestPullTagAtDigest(t *testing.T) {
	t.Parallel()
	reg := newDistribution(t)
	old := reg.Push(t, "team/app:v1", enginetest.Files{"v": "1"})
	reg.Push(t, "team/app:v2", enginetest.Files{"v": "2"})
	d := enginetest.Digest(t, old)
	e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))

	res, err := e.Pull(context.Background(), reg.Host+"/team/app:v2@"+d.String(), policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := reg.Host + "/team/app@" + d.String(); res.Reference != want {
		t.Errorf("reference %q, want %q", res.Reference, want)
	}
	if res.Images[0].ID != enginetest.ID(t, old) {
		t.Errorf("pulled %s, want the digest's image %s", res.Images[0].ID, enginetest.ID(t, old))
	}
	for _, r := range reg.Requests.Engine() {
		if r.Kind == manifestGet && r.Path != "/v2/team/app/manifests/"+d.String() {
			t.Errorf("manifest asked by %s, want by digest only", r.Path)
		}
	}
}

// The key cells of the policy table, with the requests each makes.
func TestPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("never/absent: not found, no request", func(t *testing.T) {
		reg := newDistribution(t)
		reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))
		_, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Never, nil)
		if k := pullerrors.Classify(err); k != pullerrors.NotFound {
			t.Errorf("kind %v, want not-found: %v", k, err)
		}
		if got := reg.Requests.Engine(); len(got) != 0 {
			t.Errorf("never made requests: %v", got)
		}
	})

	// The other cells start from an image pulled once.
	setup := func(t *testing.T) (*distRegistry, *engine.Engine, string, string) {
		reg := newDistribution(t)
		img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))
		ref := reg.Host + "/team/app:v1"
		if _, err := e.Pull(ctx, ref, policy.Always, nil); err != nil {
			t.Fatal(err)
		}
		reg.Requests.Reset()
		return reg, e, ref, enginetest.ID(t, img)
	}

	t.Run("never/present: used local, no request", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		res, err := e.Pull(ctx, ref, policy.Never, nil)
		if err != nil || res.Outcome != engine.UsedLocal || res.Images[0].ID != id {
			t.Fatalf("got %+v, %v; want used-local %s", res, err, id)
		}
		if got := reg.Requests.Engine(); len(got) != 0 {
			t.Errorf("never made requests: %v", got)
		}
	})

	t.Run("missing/present: used local, no request", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		res, err := e.Pull(ctx, ref, policy.Missing, nil)
		if err != nil || res.Outcome != engine.UsedLocal || res.Images[0].ID != id {
			t.Fatalf("got %+v, %v; want used-local %s", res, err, id)
		}
		if got := reg.Requests.Engine(); len(got) != 0 {
			t.Errorf("missing with a local image made requests: %v", got)
		}
	})

	t.Run("newer/up to date: one manifest HEAD, no blob", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		res, err := e.Pull(ctx, ref, policy.Newer, nil)
		if err != nil || res.Outcome != engine.UpToDate || res.Images[0].ID != id {
			t.Fatalf("got %+v, %v; want up-to-date %s", res, err, id)
		}
		if n := reg.Requests.Count(manifestHead); n != 1 {
			t.Errorf("%d manifest HEADs, want 1: %v", n, reg.Requests.Engine())
		}
		if n := reg.Requests.Count(manifestGet) + reg.Requests.Count(blobGet); n != 0 {
			t.Errorf("%d manifest or blob GETs, want none: %v", n, reg.Requests.Engine())
		}
	})

	t.Run("newer/tag moved: pulls the new image", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		moved := reg.Push(t, "team/app:v1", enginetest.Files{"a": "2"})
		res, err := e.Pull(ctx, ref, policy.Newer, nil)
		if err != nil || res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, moved) || res.Images[0].ID == id {
			t.Fatalf("got %+v, %v; want pulled %s", res, err, enginetest.ID(t, moved))
		}
	})

	t.Run("newer/registry down: local fallback", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		reg.Down()
		res, err := e.Pull(ctx, ref, policy.Newer, nil)
		if err != nil || res.Outcome != engine.LocalFallback || res.Images[0].ID != id {
			t.Fatalf("got %+v, %v; want local-fallback %s", res, err, id)
		}
		if k := pullerrors.Classify(res.RemoteErr); k != pullerrors.Unavailable {
			t.Errorf("RemoteErr kind %v, want unavailable: %v", k, res.RemoteErr)
		}
	})

	t.Run("always/present: copies again, the layer reused", func(t *testing.T) {
		reg, e, ref, id := setup(t)
		res, err := e.Pull(ctx, ref, policy.Always, nil)
		if err != nil || res.Outcome != engine.Pulled || res.Images[0].ID != id {
			t.Fatalf("got %+v, %v; want pulled %s", res, err, id)
		}
		if n := reg.Requests.Count(manifestGet); n != 1 {
			t.Errorf("%d manifest GETs, want 1: %v", n, reg.Requests.Engine())
		}
		if n := reg.Requests.Count(blobGet); n != 1 { // the config; the stored layer is reused
			t.Errorf("%d blob GETs, want 1 (the config only): %v", n, reg.Requests.Engine())
		}
	})
}
