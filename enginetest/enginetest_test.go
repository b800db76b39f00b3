package enginetest_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func TestRegistryCountsRequestsByKind(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "a/b:v1", enginetest.Files{"f": "x"})
	if n := reg.Requests.Total(); n != 0 {
		t.Fatalf("the kit's own push was counted: %v", reg.Requests.Log())
	}
	get := func(method, path string) int {
		req, _ := http.NewRequest(method, "http://"+reg.Host+path, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	get("GET", "/v2/")
	get("HEAD", "/v2/a/b/manifests/v1")
	get("GET", "/v2/a/b/manifests/v1")
	get("GET", "/v2/a/b/tags/list")
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	get("GET", "/v2/a/b/blobs/"+d.String())

	want := map[enginetest.RequestKind]int{enginetest.Ping: 1, enginetest.ManifestHead: 1, enginetest.ManifestGet: 1, enginetest.TagsList: 1, enginetest.BlobGet: 1}
	got := reg.Requests.Counts()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d (%v)", k, got[k], n, got)
		}
	}
	if reg.Requests.BlobBytes() != size {
		t.Errorf("blob bytes %d, want %d", reg.Requests.BlobBytes(), size)
	}
	reg.Requests.Reset()
	if reg.Requests.Total() != 0 {
		t.Error("Reset kept counts")
	}
}

func TestRegistryDownAndUp(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Down()
	if _, err := http.Get("http://" + reg.Host + "/v2/"); err == nil {
		t.Fatal("a request to a registry that is down succeeded")
	}
	reg.Up(t)
	resp, err := http.Get("http://" + reg.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestFailWith(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.FailWith(enginetest.Kind(enginetest.Ping), 1, http.StatusServiceUnavailable, "UNAVAILABLE", "maintenance"))
	for i, want := range []int{503, 200} {
		resp, err := http.Get("http://" + reg.Host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func TestNewEngineIsHermeticAndPulls(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "a/b:v1", enginetest.Files{"f": "x"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	res, err := e.Pull(context.Background(), "a/b:v1", policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("got %+v", res)
	}
	if root := e.Store().GraphRoot(); !strings.HasPrefix(root, os.TempDir()) {
		t.Errorf("store root %q is not in a temp dir", root)
	}
}

// A test that pulls from the in-process registry. (An Example cannot take
// a *testing.T: the function literal is what a test writes.)
func ExampleNewRegistry() {
	testPull := func(t testing.TB) {
		reg := enginetest.NewRegistry(t)
		reg.Push(t, "team/app:v1", enginetest.Files{"etc/motd": "hello"})
		e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
		res, err := e.Pull(context.Background(), "team/app:v1", policy.Missing, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Images[0].ID
	}
	_ = testPull
}
