package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/storage"
)

// Two unqualified-search registries, only the second has the image: the
// first candidate's error is recorded, the second wins.
func TestShortNameTriesSearchRegistriesInOrder(t *testing.T) {
	first, second := enginetest.NewRegistry(t), enginetest.NewRegistry(t)
	img := second.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(first), enginetest.WithRegistry(second))

	res, err := e.Pull(context.Background(), "team/app:v1", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := second.Host + "/team/app:v1"; res.Reference != want {
		t.Errorf("reference %q, want %q", res.Reference, want)
	}
	if len(res.Candidates) != 2 || res.Candidates[0].Err == nil || res.Candidates[1].Err != nil {
		t.Fatalf("candidates %+v: want the first failed, the second succeeded", res.Candidates)
	}
	if k := pullerrors.Classify(res.Candidates[0].Err); k != pullerrors.NotFound {
		t.Errorf("first candidate's error kind %v, want not-found: %v", k, res.Candidates[0].Err)
	}
	if res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("pulled %s, want %s", res.Images[0].ID, enginetest.ID(t, img))
	}
	if got := first.Requests.Count(enginetest.ManifestGet); got != 1 {
		t.Errorf("first registry saw %d manifest GETs, want 1", got)
	}
}

// Every candidate failing reports each candidate's error.
func TestShortNameAllCandidatesFail(t *testing.T) {
	first, second := enginetest.NewRegistry(t), enginetest.NewRegistry(t)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(first), enginetest.WithRegistry(second))

	_, err := e.Pull(context.Background(), "nothing/here", policy.Missing, nil)
	var pe *pullerrors.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PullError", err)
	}
	if len(pe.Candidates) != 2 {
		t.Fatalf("candidates %+v, want 2", pe.Candidates)
	}
	for i, reg := range []*enginetest.Registry{first, second} {
		if !strings.HasPrefix(pe.Candidates[i].Name, reg.Host+"/") {
			t.Errorf("candidate %d is %q, want one on %s", i, pe.Candidates[i].Name, reg.Host)
		}
	}
	if !errors.Is(err, pullerrors.ErrNotFound) {
		t.Errorf("errors.Is(err, ErrNotFound) is false: %v", err)
	}
}

func TestShortNameAlias(t *testing.T) {
	search, target := enginetest.NewRegistry(t), enginetest.NewRegistry(t)
	img := target.Push(t, "real/name:latest", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(search), enginetest.WithAlias("nick", target.Host+"/real/name"), enginetest.WithInsecureRegistry(target.Host))

	res, err := e.Pull(context.Background(), "nick", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := target.Host + "/real/name:latest"; res.Reference != want || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("got %s %s, want %s", res.Reference, res.Images[0].ID, want)
	}
	if n := search.Requests.Total(); n != 0 {
		t.Errorf("the search registry saw %d requests; an alias must not fan out", n)
	}
}

// A short name's resolution is told to progress, as libimage writes it to
// the pull's output: a Resolving event whose Message says how.
func TestShortNameResolvingMessage(t *testing.T) {
	target := enginetest.NewRegistry(t)
	target.Push(t, "real/name:latest", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(target), enginetest.WithAlias("nick", target.Host+"/real/name"))

	rec := &recorder{}
	if _, err := e.Pull(context.Background(), "nick", policy.Missing, &engine.PullOptions{Progress: rec}); err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, ev := range rec.events {
		if ev.Kind == progress.Resolving && ev.Message != "" {
			said = append(said, ev.Message)
		}
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], `Resolved "nick" as an alias (`) {
		t.Errorf("Resolving messages %q, want one saying nick was resolved as an alias", said)
	}

	// A qualified name needs no resolution: nothing is said.
	rec = &recorder{}
	if _, err := e.Pull(context.Background(), target.Host+"/real/name", policy.Always, &engine.PullOptions{Progress: rec}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range rec.events {
		if ev.Kind == progress.Resolving && ev.Message != "" {
			t.Errorf("a qualified name's pull said %q", ev.Message)
		}
	}
}

func TestShortNameEnforcingWithSeveralCandidates(t *testing.T) {
	first, second := enginetest.NewRegistry(t), enginetest.NewRegistry(t)
	second.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(first), enginetest.WithRegistry(second), enginetest.WithShortNameMode("enforcing"))

	_, err := e.Pull(context.Background(), "team/app:v1", policy.Missing, nil)
	if err == nil {
		t.Fatal("an ambiguous short name in enforcing mode was pulled")
	}
	for _, want := range []string{"enforcing", first.Host, second.Host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if first.Requests.Total()+second.Requests.Total() != 0 {
		t.Error("registries were contacted although resolution failed")
	}
	// A fully qualified name is not ambiguous.
	if _, err := e.Pull(context.Background(), second.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Errorf("qualified name in enforcing mode: %v", err)
	}
}

// name:tag@digest pulls by digest: the tag is dropped, also after docker://.
func TestTagAndDigestPullsByDigest(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"}) // what the tag would give if it were used
	d := enginetest.Digest(t, img)

	for _, name := range []string{
		reg.Host + "/team/app:v2@" + d.String(),
		"docker://" + reg.Host + "/team/app:v2@" + d.String(),
	} {
		t.Run(strings.Split(name, "@")[0], func(t *testing.T) {
			e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
			res, err := e.Pull(context.Background(), name, policy.Always, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := reg.Host + "/team/app@" + d.String(); res.Reference != want {
				t.Errorf("reference %q, want %q", res.Reference, want)
			}
			if res.Images[0].ID != enginetest.ID(t, img) || res.Images[0].Digest != d {
				t.Errorf("image %+v, want ID %s digest %s", res.Images[0], enginetest.ID(t, img), d)
			}
		})
	}
}

func TestImageIDs(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	if _, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	id := enginetest.ID(t, img)
	reg.Requests.Reset()

	for _, name := range []string{id, "sha256:" + id, id[:12]} {
		for _, p := range []policy.Policy{policy.Missing, policy.Newer, policy.Never} {
			res, err := e.Pull(ctx, name, p, nil)
			if err != nil {
				t.Errorf("Pull(%s, %v): %v", name, p, err)
				continue
			}
			if res.Outcome != engine.UsedLocal || res.Images[0].ID != id {
				t.Errorf("Pull(%s, %v) = %v %s; want used-local %s", name, p, res.Outcome, res.Images[0].ID, id)
			}
		}
		_, err := e.Pull(ctx, name, policy.Always, nil)
		if !errors.Is(err, pullerrors.ErrInvalidArgument) || !strings.Contains(err.Error(), "ID") {
			t.Errorf("Pull(%s, always) = %v; want an invalid-argument error about the ID", name, err)
		}
	}
	if n := reg.Requests.Total(); n != 0 {
		t.Errorf("pulls by ID made %d registry requests: %v", n, reg.Requests.Log())
	}

	unknown := strings.Repeat("ab", 32)
	_, err := e.Pull(ctx, unknown, policy.Missing, nil)
	if !errors.Is(err, storage.ErrImageUnknown) || pullerrors.Classify(err) != pullerrors.NotFound {
		t.Errorf("unknown ID: %v; want not-found wrapping storage.ErrImageUnknown", err)
	}
	_, err = e.Pull(ctx, "sha256:abc", policy.Missing, nil)
	if pullerrors.Classify(err) != pullerrors.InvalidReference {
		t.Errorf("sha256:abc: %v; want invalid-reference", err)
	}
}

func TestInvalidInput(t *testing.T) {
	e := enginetest.NewEngine(t)
	ctx := context.Background()
	cases := []struct {
		name string
		p    policy.Policy
		kind pullerrors.Kind
	}{
		{"Uppercase/Repo", policy.Missing, pullerrors.InvalidReference},
		{"$$garbage", policy.Missing, pullerrors.InvalidReference},
		{"docker-daemon:alpine", policy.Missing, pullerrors.InvalidReference},
		{"alpine", policy.Policy(42), pullerrors.InvalidArgument},
	}
	for _, c := range cases {
		_, err := e.Pull(ctx, c.name, c.p, nil)
		if k := pullerrors.Classify(err); k != c.kind {
			t.Errorf("Pull(%q, %v) = %v (kind %v); want kind %v", c.name, c.p, err, k, c.kind)
		}
	}
	// Options that conflict are refused before any work.
	for _, o := range []engine.PullOptions{
		{Password: "p"},
		{Username: "u", IdentityToken: "t"},
	} {
		if _, err := e.Pull(ctx, "alpine", policy.Never, &o); pullerrors.Classify(err) != pullerrors.InvalidArgument {
			t.Errorf("options %+v: %v; want invalid-argument", o, err)
		}
	}
}

// A name that matched a local image under localhost/ is pulled under that
// name: policy newer with no such registry keeps the local image.
func TestLocalhostNameStaysLocal(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	archive := t.TempDir() + "/foo.tar"
	img := enginetest.NewImage(t)
	enginetest.WriteDockerArchive(t, archive, img, "foo:latest")
	if _, err := e.Pull(ctx, "docker-archive:"+archive, policy.Always, nil); err != nil {
		t.Fatal(err)
	}

	for _, p := range []policy.Policy{policy.Missing, policy.Never} {
		res, err := e.Pull(ctx, "foo", p, nil)
		if err != nil || res.Outcome != engine.UsedLocal || res.Reference != "localhost/foo:latest" {
			t.Errorf("Pull(foo, %v) = %+v, %v; want localhost/foo:latest used locally", p, res, err)
		}
	}
	if n := reg.Requests.Total(); n != 0 {
		t.Errorf("the search registry saw %d requests for a local localhost/ image", n)
	}
}

// Policy Default takes containers.conf's pull_policy.
func TestDefaultPolicyFromContainersConf(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	ref := reg.Host + "/team/app:v1"
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithContainersConf("[engine]\npull_policy = \"never\"\n"))

	_, err := e.Pull(context.Background(), ref, policy.Default, nil)
	if !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("Default with pull_policy=never: %v; want image not known", err)
	}
	if n := reg.Requests.Total(); n != 0 {
		t.Errorf("%d registry requests under pull_policy never", n)
	}
	res, err := e.Pull(context.Background(), ref, policy.Missing, nil)
	if err != nil || res.Policy != policy.Missing {
		t.Errorf("explicit Missing: %+v, %v", res, err)
	}
}
