package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// mirrorConf makes cache a registries.conf mirror of upstream, both plain
// HTTP.
func mirrorConf(upstream, cache string) enginetest.EngineOption {
	return enginetest.WithRegistriesConf(fmt.Sprintf(
		"[[registry]]\nlocation = %q\ninsecure = true\n\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n",
		upstream, cache))
}

// A distribution pull-through cache in front of an upstream distribution,
// configured as its mirror: the engine pulls through the cache and never
// talks to the upstream while the cache is up; with the cache down it pulls
// from the upstream.
func TestPullThroughCacheMirror(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	upstream := newDistribution(t)
	img := upstream.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	cache := newDistribution(t, withProxy(upstream.URL))
	ref := upstream.Host + "/team/app:v1"
	want := enginetest.ID(t, img)

	check := func(t *testing.T, res *engine.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != engine.Pulled || res.Reference != ref || res.Images[0].ID != want {
			t.Fatalf("got %v %q %s; want pulled %q %s", res.Outcome, res.Reference, res.Images[0].ID, ref, want)
		}
		if !slices.Contains(res.Images[0].Names, ref) {
			t.Errorf("names %v lack the upstream name %s", res.Images[0].Names, ref)
		}
	}

	t.Run("through the cache", func(t *testing.T) {
		upstream.Requests.Reset()
		e := newEngine(t, mirrorConf(upstream.Host, cache.Host))
		res, err := e.Pull(ctx, ref, policy.Missing, nil)
		check(t, res, err)
		if n := cache.Requests.Count(manifestGet); n == 0 {
			t.Errorf("the cache served no manifest: %v", cache.Requests.Engine())
		}
		if n := cache.Requests.Count(blobGet); n != 2 {
			t.Errorf("the cache served %d blobs, want 2 (config and layer): %v", n, cache.Requests.Engine())
		}
		if got := upstream.Requests.Engine(); len(got) != 0 {
			t.Errorf("the engine went to the upstream: %v", got)
		}
		if len(upstream.Requests.Others()) == 0 {
			t.Error("the cache fetched nothing from the upstream")
		}
	})

	t.Run("upstream when the cache is down", func(t *testing.T) {
		cache.Down()
		upstream.Requests.Reset()
		e := newEngine(t, mirrorConf(upstream.Host, cache.Host))
		res, err := e.Pull(ctx, ref, policy.Missing, nil)
		check(t, res, err)
		if n := upstream.Requests.Count(manifestGet); n == 0 {
			t.Errorf("the upstream served no manifest: %v", upstream.Requests.Engine())
		}
		if n := upstream.Requests.Count(blobGet); n != 2 {
			t.Errorf("the upstream served %d blobs, want 2: %v", n, upstream.Requests.Engine())
		}
	})
}

// The cache keeps what it served: with the upstream down, a fresh engine
// still pulls the image through the mirror (distribution falls back to its
// local tag when the upstream cannot be asked).
func TestPullThroughCacheServesWithUpstreamDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	upstream := newDistribution(t)
	img := upstream.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	cache := newDistribution(t, withProxy(upstream.URL))
	ref := upstream.Host + "/team/app:v1"
	if _, err := newEngine(t, mirrorConf(upstream.Host, cache.Host)).Pull(ctx, ref, policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	upstream.Down()
	cache.Requests.Reset()

	res, err := newEngine(t, mirrorConf(upstream.Host, cache.Host)).Pull(ctx, ref, policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("got %v %s, want pulled %s", res.Outcome, res.Images[0].ID, enginetest.ID(t, img))
	}
	if n := cache.Requests.Count(blobGet); n != 2 {
		t.Errorf("the cache served %d blobs, want 2: %v", n, cache.Requests.Engine())
	}
}
