package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/image"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// stressImages pushes n images sharing a base layer and returns their refs
// and IDs.
func stressImages(t *testing.T, reg *enginetest.Registry, n int) (refs []string, ids map[string]string) {
	t.Helper()
	ids = map[string]string{}
	base := enginetest.Files{"base": "shared by all"}
	for i := range n {
		img := enginetest.NewImage(t, enginetest.WithLayer(t, base), enginetest.WithRandomLayer(t, 64<<10))
		ref := fmt.Sprintf("stress/img%d:v1", i)
		reg.PushImage(t, ref, img)
		refs = append(refs, reg.Host+"/"+ref)
		ids[reg.Host+"/"+ref] = enginetest.ID(t, img)
	}
	return refs, ids
}

// Thirty-two goroutines pull a mix of ten images with mixed policies into
// one store, through two Engines on that store, while a second process
// pulls into it too. All succeed and every image reads back whole.
func TestStress(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	refs, ids := stressImages(t, reg, 10)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	engines := []*engine.Engine{newEngine(t, opts), newEngine(t, opts)}
	policies := []policy.Policy{policy.Missing, policy.Newer, policy.Always, policy.Missing}

	// The other process pulls every image while we do.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+encodeChildOptions(t, opts), crashRefEnv+"="+strings.Join(refs, ","))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	const workers = 32
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			e := engines[w%2]
			ref := refs[w%len(refs)]
			res, err := e.Pull(context.Background(), ref, policies[w%len(policies)], nil)
			if err == nil && res.Images[0].ID != ids[ref] {
				err = fmt.Errorf("%s gave image %s, want %s", ref, res.Images[0].ID, ids[ref])
			}
			errs[w] = err
		})
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Errorf("the other process: %v", err)
	}
	for w, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	for _, ref := range refs {
		res, err := engines[0].Pull(context.Background(), ref, policy.Never, nil)
		if err != nil {
			t.Errorf("%s afterwards: %v", ref, err)
			continue
		}
		verifyImage(t, engines[0].Store(), res.Images[0].ID)
	}
}

// verifyImage reads an image back from the store and checks its config
// digest and every layer's content against the config's diff IDs.
func verifyImage(t *testing.T, s storage.Store, id string) {
	t.Helper()
	ctx := context.Background()
	ref, err := istorage.Transport.NewStoreReference(s, nil, id)
	if err != nil {
		t.Fatal(err)
	}
	src, err := ref.NewImageSource(ctx, nil)
	if err != nil {
		t.Fatalf("image %s: %v", id, err)
	}
	defer src.Close()
	img, err := image.FromUnparsedImage(ctx, nil, image.UnparsedInstance(src, nil))
	if err != nil {
		t.Fatalf("image %s: %v", id, err)
	}
	cfg, err := img.ConfigBlob(ctx)
	if err != nil || digest.FromBytes(cfg) != img.ConfigInfo().Digest || digest.FromBytes(cfg).Encoded() != id {
		t.Fatalf("image %s: config does not match its digest (%v)", id, err)
	}
	oci, err := img.OCIConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image(id)
	if err != nil {
		t.Fatal(err)
	}
	var got []digest.Digest
	for layerID := stored.TopLayer; layerID != ""; {
		layer, err := s.Layer(layerID)
		if err != nil {
			t.Fatalf("image %s: %v", id, err)
		}
		uncompressed := archive.Uncompressed
		rc, err := s.Diff("", layerID, &storage.DiffOptions{Compression: &uncompressed})
		if err != nil {
			t.Fatalf("image %s layer %s: %v", id, layerID, err)
		}
		d := digest.Canonical.Digester()
		_, err = io.Copy(d.Hash(), rc)
		rc.Close()
		if err != nil || d.Digest() != layer.UncompressedDigest {
			t.Errorf("image %s layer %s reads back as %s, recorded %s (%v)", id, layerID, d.Digest(), layer.UncompressedDigest, err)
		}
		got = append([]digest.Digest{d.Digest()}, got...)
		layerID = layer.Parent
	}
	if fmt.Sprint(got) != fmt.Sprint(oci.RootFS.DiffIDs) {
		t.Errorf("image %s layers %v, config says %v", id, got, oci.RootFS.DiffIDs)
	}
}
