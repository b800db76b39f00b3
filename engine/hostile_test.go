package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// putManifest stores raw under repo:tag with the registry's own API.
func putManifest(t *testing.T, reg *enginetest.Registry, repo, tag, mediaType string, raw []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+reg.Host+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT manifest: %s", resp.Status)
	}
}

// Manifests that lie. A list whose instance is itself a list fails with a
// classified error and stores nothing under the name. An absurd layer size
// (2^60 bytes) is harmless: containers/image streams the blob, takes its
// length from the registry's answer and verifies its digest, so nothing is
// allocated by the declared size and the image stored is exactly the
// content the digests name; the test checks that, layer by layer.
func TestHostileManifests(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "hostile/base:v1", enginetest.Files{"a": "1"})
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["layers"].([]any)[0].(map[string]any)["size"] = int64(1) << 60
	absurd, _ := json.Marshal(m)
	putManifest(t, reg, "hostile/base", "absurd", string(mt), absurd)

	// A list whose one entry is a list (the list of the base image).
	inner := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"` + string(mt) + `","digest":"` + enginetest.Digest(t, img).String() + `","size":` + jsonInt(len(raw)) + `,"platform":{"architecture":"amd64","os":"linux"}}]}`)
	putManifest(t, reg, "hostile/base", "inner", "application/vnd.docker.distribution.manifest.list.v2+json", inner)
	outer := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","digest":"` + digest.FromBytes(inner).String() + `","size":` + jsonInt(len(inner)) + `,"platform":{"architecture":"amd64","os":"linux"}}]}`)
	putManifest(t, reg, "hostile/base", "nested", "application/vnd.docker.distribution.manifest.list.v2+json", outer)

	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()

	ref := reg.Host + "/hostile/base:nested"
	_, err = e.Pull(ctx, ref, policy.Always, pullOpts("linux/amd64"))
	if k := pullerrors.Classify(err); k != pullerrors.Unsupported {
		t.Errorf("a list of lists: kind %v, want unsupported: %v", k, err)
	}
	if _, err := e.Pull(ctx, ref, policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("something was stored under the name: %v", err)
	}

	res, err := e.Pull(ctx, reg.Host+"/hostile/base:absurd", policy.Always, nil)
	if err != nil {
		t.Fatalf("absurd declared size: %v", err)
	}
	if res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("stored %s, want the content's image %s", res.Images[0].ID, enginetest.ID(t, img))
	}
	verifyImage(t, e.Store(), res.Images[0].ID)
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
