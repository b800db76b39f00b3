package registryclient_test

import (
	"slices"
	"testing"

	"github.com/pullengine/pullengine/internal/registryclient"
	"go.podman.io/image/v5/types"
)

// PullSources follows containers/image's order: the mirrors that admit the
// reference (pull-from-mirror), then the rewritten location, last; each
// with its endpoint's insecure flag.
func TestPullSourcesOrder(t *testing.T) {
	sys := newSys(t, `
[[registry]]
prefix = "a.example/org"
location = "b.example/org"
insecure = true
[[registry.mirror]]
location = "m1.example/cache"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m2.example/cache"
insecure = true
`)
	const dgst = "@sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for _, tc := range []struct {
		ref      string
		want     []string
		insecure []bool
	}{
		{"a.example/org/app:v1", []string{"m2.example/cache/app:v1", "b.example/org/app:v1"}, []bool{true, true}},
		{"a.example/org/app" + dgst, []string{"m1.example/cache/app" + dgst, "m2.example/cache/app" + dgst, "b.example/org/app" + dgst}, []bool{false, true, true}},
		{"a.example/other/app:v1", []string{"a.example/other/app:v1"}, []bool{false}},
	} {
		srcs, err := registryclient.PullSources(sys, named(t, tc.ref))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var insecure []bool
		for _, s := range srcs {
			got = append(got, s.Ref.String())
			insecure = append(insecure, s.Insecure)
		}
		if !slices.Equal(got, tc.want) || !slices.Equal(insecure, tc.insecure) {
			t.Errorf("%s: sources %v insecure %v, want %v %v", tc.ref, got, insecure, tc.want, tc.insecure)
		}
		if srcs[len(srcs)-1].Mirror || (len(srcs) > 1 && !srcs[0].Mirror) {
			t.Errorf("%s: the location must come last, after the mirrors", tc.ref)
		}
	}
}

// New talks to the rewritten location, and credentials given in the
// SystemContext go only to the name's own registry, as containers/image
// sends them.
func TestNewUsesTheLocation(t *testing.T) {
	sys := newSys(t, "[[registry]]\nprefix = \"a.example/org\"\nlocation = \"b.example/org\"\n")
	sys.DockerAuthConfig = &types.DockerAuthConfig{Username: "u", Password: "p"}
	c, err := registryclient.New(sys, named(t, "a.example/org/app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Host() != "b.example" || c.Repository() != "org/app" {
		t.Errorf("client for %s/%s, want b.example/org/app", c.Host(), c.Repository())
	}
	if c.Authenticated() {
		t.Error("the pull's credentials for a.example were given to b.example")
	}
	same, err := registryclient.New(sys, named(t, "b.example/org/app"))
	if err != nil {
		t.Fatal(err)
	}
	if !same.Authenticated() {
		t.Error("the pull's credentials were not used for the name's own registry")
	}
}
