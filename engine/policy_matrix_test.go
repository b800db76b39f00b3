package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

type localState string

const (
	absent    localState = "absent"
	same      localState = "same-digest"
	older     localState = "older-digest"
	corrupted localState = "corrupted"
)

// reqs is the exact set of registry requests a cell expects.
type reqs = map[enginetest.RequestKind]int

// A full pull of the one-layer test image: ping, manifest, config, layer.
var fullPull = reqs{enginetest.Ping: 1, enginetest.ManifestGet: 1, enginetest.BlobGet: 2}

type cell struct {
	p       policy.Policy
	state   localState
	down    bool
	outcome engine.Outcome
	// wantErr: the pull fails with an error of kind wantKind.
	wantErr  bool
	wantKind pullerrors.Kind
	// image is the image the result must name: "old" (what was local) or
	// "new" (what the registry has now).
	image string
	// reqs is the exact set of requests the registry must see (reqs{}:
	// none). A cell sets either reqs or unchecked, never neither: a cell
	// without a request expectation must not read like "zero requests".
	reqs reqs
	// unchecked says why the cell does not check the requests.
	unchecked string
}

// registryDown: a registry that is down logs no request, whatever the
// engine tries, so counting its requests would check nothing.
const registryDown = "the registry is down and sees no request"

// TestPolicyMatrix runs every policy against every local state with the
// registry up and down, and checks the outcome, the image returned and the
// exact requests the registry saw.
func TestPolicyMatrix(t *testing.T) {
	// The registry changed: a HEAD sees another digest, then the copy (the
	// local image is no list instance, so no GET to compare instances).
	// The HEAD's client and the copy's each ping.
	newer := reqs{enginetest.Ping: 2, enginetest.ManifestHead: 1, enginetest.ManifestGet: 1, enginetest.BlobGet: 2}
	cells := []cell{
		// never: no request, ever (checked while the registry is up).
		{p: policy.Never, state: absent, wantErr: true, wantKind: pullerrors.NotFound, reqs: reqs{}},
		{p: policy.Never, state: same, outcome: engine.UsedLocal, image: "old", reqs: reqs{}},
		{p: policy.Never, state: older, outcome: engine.UsedLocal, image: "old", reqs: reqs{}},
		{p: policy.Never, state: corrupted, wantErr: true, wantKind: pullerrors.NotFound, reqs: reqs{}},
		{p: policy.Never, state: same, down: true, outcome: engine.UsedLocal, image: "old", unchecked: registryDown},
		{p: policy.Never, state: absent, down: true, wantErr: true, wantKind: pullerrors.NotFound, unchecked: registryDown},
		{p: policy.Never, state: older, down: true, outcome: engine.UsedLocal, image: "old", unchecked: registryDown},
		{p: policy.Never, state: corrupted, down: true, wantErr: true, wantKind: pullerrors.NotFound, unchecked: registryDown},

		// missing: the registry only when nothing usable is local.
		{p: policy.Missing, state: absent, outcome: engine.Pulled, image: "new", reqs: fullPull},
		{p: policy.Missing, state: same, outcome: engine.UsedLocal, image: "old", reqs: reqs{}},
		{p: policy.Missing, state: older, outcome: engine.UsedLocal, image: "old", reqs: reqs{}},
		{p: policy.Missing, state: corrupted, outcome: engine.Pulled, image: "new", reqs: reqs{enginetest.Ping: 1, enginetest.ManifestGet: 1, enginetest.BlobGet: 2}},
		{p: policy.Missing, state: absent, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
		{p: policy.Missing, state: same, down: true, outcome: engine.UsedLocal, image: "old", unchecked: registryDown},
		{p: policy.Missing, state: older, down: true, outcome: engine.UsedLocal, image: "old", unchecked: registryDown},
		{p: policy.Missing, state: corrupted, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},

		// newer: one HEAD when up to date; fall back to the local image
		// when the registry is down.
		{p: policy.Newer, state: absent, outcome: engine.Pulled, image: "new", reqs: fullPull},
		{p: policy.Newer, state: same, outcome: engine.UpToDate, image: "old", reqs: reqs{enginetest.Ping: 1, enginetest.ManifestHead: 1}},
		{p: policy.Newer, state: older, outcome: engine.Pulled, image: "new", reqs: newer},
		{p: policy.Newer, state: corrupted, outcome: engine.Pulled, image: "new", reqs: fullPull},
		{p: policy.Newer, state: absent, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
		{p: policy.Newer, state: same, down: true, outcome: engine.LocalFallback, image: "old", unchecked: registryDown},
		{p: policy.Newer, state: older, down: true, outcome: engine.LocalFallback, image: "old", unchecked: registryDown},
		{p: policy.Newer, state: corrupted, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},

		// always: every time; no fallback.
		{p: policy.Always, state: absent, outcome: engine.Pulled, image: "new", reqs: fullPull},
		// The layer is stored already: only the config blob is fetched.
		{p: policy.Always, state: same, outcome: engine.Pulled, image: "old", reqs: reqs{enginetest.Ping: 1, enginetest.ManifestGet: 1, enginetest.BlobGet: 1}},
		{p: policy.Always, state: older, outcome: engine.Pulled, image: "new", reqs: fullPull},
		{p: policy.Always, state: corrupted, outcome: engine.Pulled, image: "new", reqs: fullPull},
		{p: policy.Always, state: corrupted, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
		{p: policy.Always, state: absent, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
		{p: policy.Always, state: same, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
		{p: policy.Always, state: older, down: true, wantErr: true, wantKind: pullerrors.Unavailable, unchecked: registryDown},
	}
	for _, c := range cells {
		name := c.p.String() + "/" + string(c.state)
		if c.down {
			name += "/registry-down"
		}
		if (c.reqs == nil) == (c.unchecked == "") {
			t.Fatalf("cell %s: set exactly one of reqs (reqs{} for none) and unchecked", name)
		}
		t.Run(name, func(t *testing.T) { runCell(t, c) })
	}
}

func runCell(t *testing.T, c cell) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(t)
	ref := reg.Host + "/matrix/app:v1"
	oldImg := enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"v": "1"}))
	newImg := oldImg
	reg.PushImage(t, "matrix/app:v1", oldImg)

	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	if c.state != absent {
		seed(t, opts, ref)
	}
	if c.state == corrupted {
		corruptLayers(t, opts.RootDir)
	}
	if c.state == older {
		newImg = enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"v": "2"}))
		reg.PushImage(t, "matrix/app:v1", newImg)
	}
	e := newEngine(t, opts)
	if c.down {
		reg.Down()
	}
	reg.Requests.Reset()

	res, err := e.Pull(ctx, ref, c.p, nil)

	if c.unchecked == "" {
		assertRequests(t, reg, c.reqs)
	}
	if c.wantErr {
		if err == nil {
			t.Fatalf("Pull succeeded with outcome %v; want a %v error", res.Outcome, c.wantKind)
		}
		if k := pullerrors.Classify(err); k != c.wantKind {
			t.Errorf("error kind %v, want %v: %v", k, c.wantKind, err)
		}
		if c.wantKind == pullerrors.NotFound && !errors.Is(err, storage.ErrImageUnknown) {
			t.Errorf("errors.Is(err, storage.ErrImageUnknown) is false for %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if res.Outcome != c.outcome {
		t.Errorf("outcome %v, want %v", res.Outcome, c.outcome)
	}
	want := map[string]v1.Image{"old": oldImg, "new": newImg}[c.image]
	if len(res.Images) != 1 || res.Images[0].ID != enginetest.ID(t, want) {
		t.Errorf("images %+v, want the %s image %s", res.Images, c.image, enginetest.ID(t, want))
	}
	if (res.Outcome == engine.LocalFallback) != (res.RemoteErr != nil) {
		t.Errorf("outcome %v with RemoteErr %v", res.Outcome, res.RemoteErr)
	}
	if res.Outcome == engine.LocalFallback && pullerrors.Classify(res.RemoteErr) != pullerrors.Unavailable {
		t.Errorf("RemoteErr kind %v, want unavailable: %v", pullerrors.Classify(res.RemoteErr), res.RemoteErr)
	}
	if res.Reference != ref {
		t.Errorf("reference %q, want %q", res.Reference, ref)
	}
	// Whatever the outcome, the image returned is readable in full.
	if _, err := e.Pull(ctx, res.Images[0].ID, policy.Never, nil); err != nil {
		t.Errorf("the image returned cannot be used by ID: %v", err)
	}
}

// newEngine opens an Engine on opts and closes it with the test.
func newEngine(t *testing.T, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// seed pulls ref into the store of opts with a short-lived Engine.
func seed(t *testing.T, opts engine.Options, ref string) {
	t.Helper()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Pull(context.Background(), ref, policy.Always, nil); err != nil {
		t.Fatalf("seeding %s: %v", ref, err)
	}
}

// corruptLayers removes every layer record from a closed store (the
// driver's <driver>-layers/layers.json), as a crash or a careless rm can:
// the image stays, its layers are gone.
func corruptLayers(t *testing.T, root string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "*-layers", "layers.json"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("layer records under %s: %v %v", root, paths, err)
	}
	path := paths[0]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var layers []map[string]any
	if err := json.Unmarshal(data, &layers); err != nil {
		t.Fatal(err)
	}
	if len(layers) == 0 {
		t.Fatal("no layer to corrupt")
	}
	if err := os.WriteFile(path, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertRequests(t *testing.T, reg *enginetest.Registry, want reqs) {
	t.Helper()
	got := reg.Requests.Counts()
	if len(got) != len(want) {
		t.Errorf("registry requests %v, want %v (log: %v)", got, want, reg.Requests.Log())
		return
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("registry requests %v, want %v (log: %v)", got, want, reg.Requests.Log())
			return
		}
	}
}
