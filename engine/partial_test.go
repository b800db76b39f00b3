package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
)

// partialImages pushes v1 and v2 of a two-layer zstd:chunked image, v2
// changing 2 % of the files of each layer, and returns the files of v2.
func partialImages(t *testing.T, reg *enginetest.Registry) (v2files []enginetest.Files, changed []string) {
	t.Helper()
	const files, size = 60, 8 << 10
	var v1layers, v2layers []enginetest.ImageOption
	for i := range uint64(2) {
		f1 := enginetest.RandomFiles(fmt.Sprintf("layer%d-", i), i, files, size)
		f2, ch := enginetest.ChangeFiles(f1, 0.02, 100+i)
		v1layers = append(v1layers, enginetest.WithLayer(t, f1))
		v2layers = append(v2layers, enginetest.WithLayer(t, f2))
		v2files = append(v2files, f2)
		changed = append(changed, ch...)
	}
	reg.PushZstdChunked(t, "team/app:v1", enginetest.NewImage(t, append(v1layers, enginetest.OCI())...))
	reg.PushZstdChunked(t, "team/app:v2", enginetest.NewImage(t, append(v2layers, enginetest.OCI())...))
	return v2files, changed
}

// partialEngine is an engine over an overlay store with partial pulls
// switched as on says. Where the kernel does not mount overlay for this
// process, partial pulls cannot happen: the test is skipped with the reason.
func partialEngine(t *testing.T, reg *enginetest.Registry, on types.OptionalBool) *engine.Engine {
	t.Helper()
	if driver, reason := enginetest.DefaultDriver(); driver != "overlay" {
		t.Skipf("no overlay here (%s): partial pulls need it", reason)
	}
	return enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithDriver("overlay"),
		enginetest.WithEngineOptions(func(o *engine.Options) { o.PartialPulls = on }))
}

// TestPartialPullFetchesOnlyChangedFiles: with v1 local, v2 costs the
// registry at most 10 % of v2's blobs; the result has the diff IDs and the
// file contents of a full pull, and Transfer accounts for every blob byte
// as fetched or reused.
func TestPartialPullFetchesOnlyChangedFiles(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	v2files, changed := partialImages(t, reg)
	ctx := context.Background()
	e := partialEngine(t, reg, types.OptionalBoolTrue)
	if _, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}

	reg.Requests.Reset()
	res, err := e.Pull(ctx, reg.Host+"/team/app:v2", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs := enginetest.BlobsSize(reg.Blobs(t, "team/app:v2"))
	served := reg.Requests.BlobBytes()
	t.Logf("v2: registry served %d of %d blob bytes (%.1f %%); transfer %+v", served, blobs, 100*float64(served)/float64(blobs), res.Transfer)
	if served > blobs/10 {
		t.Errorf("registry served %d bytes for v2, more than 10 %% of its %d blob bytes", served, blobs)
	}
	if got := res.Transfer.BytesFetched + res.Transfer.BytesReused; got != blobs {
		t.Errorf("Transfer fetched %d + reused %d = %d, want v2's %d blob bytes", res.Transfer.BytesFetched, res.Transfer.BytesReused, got, blobs)
	}
	if res.Transfer.BytesFetched > served || res.Transfer.BytesFetched < served/2 {
		t.Errorf("Transfer.BytesFetched = %d, registry served %d", res.Transfer.BytesFetched, served)
	}

	// A full pull of v2 into a fresh store gives the same layers.
	full := partialEngine(t, reg, types.OptionalBoolFalse)
	fres, err := full.Pull(ctx, reg.Host+"/team/app:v2", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fres.Transfer.BytesReused != 0 || fres.Transfer.BytesFetched != blobs {
		t.Errorf("full pull transfer %+v, want %d bytes fetched, none reused", fres.Transfer, blobs)
	}
	partialIDs, fullIDs := diffIDs(t, e.Store(), res.Images[0].ID), diffIDs(t, full.Store(), fres.Images[0].ID)
	if !slices.Equal(partialIDs, fullIDs) {
		t.Errorf("diff IDs: partial pull %v, full pull %v", partialIDs, fullIDs)
	}
	if res.Images[0].ID != fres.Images[0].ID {
		t.Errorf("image ID: partial pull %s, full pull %s", res.Images[0].ID, fres.Images[0].ID)
	}
	checkFiles(t, e.Store(), res.Images[0].ID, v2files, changed)
}

// diffIDs lists the uncompressed digests of an image's layers, base first.
func diffIDs(t *testing.T, s storage.Store, imageID string) []digest.Digest {
	t.Helper()
	img, err := s.Image(imageID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []digest.Digest
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.UncompressedDigest)
		id = l.Parent
	}
	slices.Reverse(ids)
	return ids
}

// checkFiles mounts the image's top layer and compares the changed files
// and one unchanged file per layer with what was pushed.
func checkFiles(t *testing.T, s storage.Store, imageID string, layers []enginetest.Files, changed []string) {
	t.Helper()
	img, err := s.Image(imageID)
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.Mount(img.TopLayer, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = s.Unmount(img.TopLayer, true) }()
	want := enginetest.Files{}
	for _, files := range layers {
		for _, p := range changed {
			if c, ok := files[p]; ok {
				want[p] = c
			}
		}
		for p, c := range files {
			if !slices.Contains(changed, p) {
				want[p] = c
				break
			}
		}
	}
	for p, c := range want {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != c {
			t.Errorf("%s: read %d bytes (err %v), want the %d bytes pushed", p, len(got), err, len(c))
		}
	}
}

// TestPartialPullOneManifestGET: the fast path reads the manifest, leaves
// a zstd:chunked image to copy.Image for a partial pull, and hands it the
// source it opened: the registry sees one manifest GET (a registry may
// count each as a pull), and v2 still fetches only what changed (the
// source kept its ranged reads).
func TestPartialPullOneManifestGET(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	partialImages(t, reg)
	ctx := context.Background()
	e := partialEngine(t, reg, types.OptionalBoolTrue)
	for _, tag := range []string{"v1", "v2"} {
		reg.Requests.Reset()
		res, err := e.Pull(ctx, reg.Host+"/team/app:"+tag, policy.Missing, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Transfer.Path != engine.PathCopy {
			t.Errorf("%s: Transfer.Path %q, want %q (partial pulls are copy.Image's)", tag, res.Transfer.Path, engine.PathCopy)
		}
		if n := reg.Requests.Count(enginetest.ManifestGet); n != 1 {
			t.Errorf("%s: %d manifest GETs, want 1", tag, n)
		}
	}
	blobs := enginetest.BlobsSize(reg.Blobs(t, "team/app:v2"))
	if served := reg.Requests.BlobBytes(); served > blobs/10 {
		t.Errorf("v2: registry served %d of %d blob bytes: not a partial pull", served, blobs)
	}
}

// TestPartialPullFallsBackWhenRangesAreRefused: a registry that answers
// multi-range reads with 400 still serves the pull, in whole blobs.
func TestPartialPullFallsBackWhenRangesAreRefused(t *testing.T) {
	reg := enginetest.NewRegistry(t, registryfaults.RefuseMultiRange())
	partialImages(t, reg)
	ctx := context.Background()
	e := partialEngine(t, reg, types.OptionalBoolTrue)
	if _, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	reg.Requests.Reset()
	res, err := e.Pull(ctx, reg.Host+"/team/app:v2", policy.Missing, nil)
	if err != nil {
		t.Fatalf("pull with ranges refused: %v", err)
	}
	blobs := enginetest.BlobsSize(reg.Blobs(t, "team/app:v2"))
	if served := reg.Requests.BlobBytes(); served < blobs {
		t.Errorf("registry served %d bytes, want at least v2's %d blob bytes (whole blobs)", served, blobs)
	}
	if res.Transfer.BytesReused != 0 || res.Transfer.BytesFetched != blobs {
		t.Errorf("transfer %+v, want all %d bytes fetched", res.Transfer, blobs)
	}
}

// TestPartialPullsNeedOverlay: the switch on a vfs store is refused at New
// with InvalidArgument; off, or left to storage.conf, vfs is fine.
func TestPartialPullsNeedOverlay(t *testing.T) {
	opts := enginetest.NewEngineOptions(t, enginetest.WithDriver("vfs"),
		enginetest.WithEngineOptions(func(o *engine.Options) { o.PartialPulls = types.OptionalBoolTrue }))
	e, err := engine.New(opts)
	if err == nil {
		e.Close()
		t.Fatal("New with PartialPulls on a vfs store succeeded")
	}
	if pullerrors.Classify(err) != pullerrors.InvalidArgument {
		t.Errorf("New: %v, classified %v; want invalid-argument", err, pullerrors.Classify(err))
	}
	for _, on := range []types.OptionalBool{types.OptionalBoolFalse, types.OptionalBoolUndefined} {
		enginetest.NewEngine(t, enginetest.WithDriver("vfs"),
			enginetest.WithEngineOptions(func(o *engine.Options) { o.PartialPulls = on }))
	}
}

// TestPartialPullsWithCallersStore: a caller's store keeps its own pull
// options (they stand for storage.conf's). Enabled on vfs with the switch
// left undefined, New logs a warning and the pull works in whole layers; a
// switch that contradicts the store is refused.
func TestPartialPullsWithCallersStore(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), GraphDriverName: "vfs",
		PullOptions: map[string]string{"enable_partial_images": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = st.Shutdown(true) })
	reg := enginetest.NewRegistry(t)
	reg.PushZstdChunked(t, "team/app:v1", enginetest.NewImage(t, enginetest.OCI()))

	var logs bytes.Buffer
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Store = st
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	}))
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "partial pulls") {
		t.Errorf("no warning about partial pulls on vfs in the log: %s", logs.String())
	}
	if _, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Fatalf("pull on vfs with partial pulls enabled by the store: %v", err)
	}

	for _, on := range []types.OptionalBool{types.OptionalBoolTrue, types.OptionalBoolFalse} {
		opts := enginetest.NewEngineOptions(t, enginetest.WithEngineOptions(func(o *engine.Options) {
			o.Store, o.PartialPulls = st, on
		}))
		// True agrees with the store but vfs cannot apply it; False
		// contradicts the store.
		if e, err := engine.New(opts); pullerrors.Classify(err) != pullerrors.InvalidArgument {
			if e != nil {
				e.Close()
			}
			t.Errorf("PartialPulls %v with a vfs store enabling them: %v; want invalid-argument", on, err)
		}
	}
}
