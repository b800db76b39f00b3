package engine_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// AllTags with docker://HOST/REPO pulls every tag, as podman does: the
// "latest" the docker transport adds to a name without a tag does not count
// as the caller's. A tag the caller wrote, latest included, stays an error.
func TestAllTagsDockerTransport(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	var want []string
	for _, tag := range []string{"v1", "v2"} {
		want = append(want, enginetest.ID(t, reg.Push(t, "team/app:"+tag, enginetest.Files{"tag": tag})))
	}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	all := &engine.PullOptions{AllTags: true}

	res, err := e.Pull(ctx, "docker://"+reg.Host+"/team/app", policy.Missing, all)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range res.Images {
		got = append(got, img.ID)
	}
	if !slices.Equal(got, want) || res.Reference != reg.Host+"/team/app" {
		t.Errorf("pulled %v as %q; want %v as %q", got, res.Reference, want, reg.Host+"/team/app")
	}

	for _, name := range []string{"docker://" + reg.Host + "/team/app:latest", "docker://" + reg.Host + "/team/app:v1", reg.Host + "/team/app:latest"} {
		_, err := e.Pull(ctx, name, policy.Missing, all)
		if pullerrors.Classify(err) != pullerrors.InvalidArgument || !strings.Contains(err.Error(), "must not carry a tag") {
			t.Errorf("%s: %v; want invalid-argument, the name must not carry a tag", name, err)
		}
	}
}

// The Result's JSON spells a platform as OCI does and gives the duration
// in nanoseconds.
func TestResultJSON(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	res, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Images []struct {
			ID       string         `json:"id"`
			Platform map[string]any `json:"platform"`
		} `json:"images"`
		Outcome  string         `json:"outcome"`
		Transfer map[string]any `json:"transfer"`
		Duration json.Number    `json:"duration"`
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || len(doc.Images) != 1 {
		t.Fatalf("%s: %v", out, err)
	}
	p, want := doc.Images[0].Platform, res.Images[0].Platform
	keys := 2 // os, architecture; variant only when set
	if want.Variant != "" {
		keys = 3
	}
	if p["os"] != want.OS || p["architecture"] != want.Architecture || len(p) != keys {
		t.Errorf("platform %v; want the OCI spelling of %+v", p, want)
	}
	if ns, err := doc.Duration.Int64(); err != nil || ns != res.Duration.Nanoseconds() || ns <= 0 {
		t.Errorf("duration %q; want %d nanoseconds", doc.Duration, res.Duration.Nanoseconds())
	}
	if doc.Outcome != "pulled" || doc.Images[0].ID != enginetest.ID(t, img) || doc.Transfer["bytesFetched"] == nil {
		t.Errorf("result JSON %s", out)
	}
}
