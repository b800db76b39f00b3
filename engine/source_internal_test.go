package engine

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
)

// A policy that asks for sigstore signatures keeps the source unwrapped
// (a wrapper would hide them); others do not.
func TestNeedsSigstore(t *testing.T) {
	for policy, want := range map[string]bool{
		`{"default":[{"type":"insecureAcceptAnything"}]}`: false,
		`{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io":[{"type":"sigstoreSigned","keyData":"eA==","signedIdentity":{"type":"matchRepository"}}]}}}`: true,
		`{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"eA=="}]}`:                                                                                       false,
	} {
		p, err := signature.NewPolicyFromBytes([]byte(policy))
		if err != nil {
			t.Fatal(err)
		}
		if got := needsSigstore(p); got != want {
			t.Errorf("%s: needsSigstore = %v, want %v", policy, got, want)
		}
	}
}

// wrapSource leaves a registry source alone when the store does partial
// (zstd:chunked) pulls itself, unless Limits need the wrapper; it wraps
// other transports only for Limits.
func TestWrapSourceDecision(t *testing.T) {
	dir := t.TempDir()
	store, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), GraphDriverName: "vfs",
		PullOptions: map[string]string{"enable_partial_images": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = store.Shutdown(true) }()
	accept := &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}
	cfg := &settings{policy: accept}
	registry, err := alltransports.ParseImageName("docker://example.com/a/b:c")
	if err != nil {
		t.Fatal(err)
	}
	archive, err := alltransports.ParseImageName("oci-archive:/nonexistent.tar")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		partial bool // partial pulls on, on overlay
		limits  Limits
		ref     types.ImageReference
		wrapped bool
	}{
		{"registry (partial pulls on vfs: inactive)", false, Limits{}, registry, true},
		{"registry, partial pulls", true, Limits{}, registry, false},
		{"registry, partial pulls, limits", true, Limits{MaxLayers: 3}, registry, true},
		{"archive", false, Limits{}, archive, false},
		{"archive, limits", false, Limits{MaxLayerSize: 1}, archive, true},
	} {
		e := &Engine{store: store, limits: tc.limits, log: slog.New(slog.DiscardHandler)}
		if tc.partial {
			e.store = overlayStore{store} // only overlay applies partial layers
		}
		tr := &transferSpec{e: e, cfg: cfg}
		_, wrapped := tr.wrapSource(nil, tc.ref, nil).(*wrappedRef)
		if wrapped != tc.wrapped {
			t.Errorf("%s: wrapped %v, want %v", tc.name, wrapped, tc.wrapped)
		}
	}
}

// overlayStore is the vfs store seen as overlay, the driver partial pulls
// need, without mounting anything.
type overlayStore struct{ storage.Store }

func (overlayStore) GraphDriverName() string { return "overlay" }
