package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// bootcResult is a pull as bootc's podman_client.rs sees it.
type bootcResult struct {
	status  int
	errBody ErrorModel
	blobs   map[string][]string // pullProgress statuses by progressComponentID
	final   bootcReport
}

// bootcPull reads a pullProgress=true answer as bootc does: a non-200 is
// an error with libpod's body; a 200 stream is decoded line by line,
// strictly, into bootcReport (stream_test.go: exactly the fields of
// libpod's ImagePullReport); per-blob progress is collected by component;
// the last line says success (images, id) or error.

func bootcPull(t *testing.T, a answer) bootcResult {
	t.Helper()
	res := bootcResult{status: a.status, blobs: map[string][]string{}}
	if a.status != http.StatusOK {
		if err := json.Unmarshal(a.body, &res.errBody); err != nil {
			t.Fatalf("status %d with an undecodable body %s: %v", a.status, a.body, err)
		}
		return res
	}
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r bootcReport
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bootc cannot decode line %q: %v", sc.Text(), err)
		}
		if p := r.Progress; p != nil {
			if p.ProgressComponentID == "" {
				t.Errorf("a pullProgress line without progressComponentID: %s", sc.Text())
			}
			res.blobs[p.ProgressComponentID] = append(res.blobs[p.ProgressComponentID], p.Status)
		}
		res.final = r
	}
	return res
}

// localEnv serves a handler that allows one directory (allowed), holding
// archives and layouts of one two-layer image; outside is a directory it
// does not allow.
type localEnv struct {
	*env
	allowed, outside string
	id               string
	layers           [][2]string // the image's layers: digest, diff ID (docker-archive's blobs)
}

func newLocalEnv(t *testing.T) *localEnv {
	t.Helper()
	allowed, outside := t.TempDir(), t.TempDir()
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 64<<10), enginetest.WithRandomLayer(t, 32<<10))
	enginetest.WriteOCIArchive(t, filepath.Join(allowed, "app.oci.tar"), img, map[string]string{imgspecv1.AnnotationRefName: "localhost/app:1"})
	enginetest.WriteDockerArchive(t, filepath.Join(allowed, "app.docker.tar"), img, "localhost/app:2")
	enginetest.WriteOCILayout(t, filepath.Join(allowed, "layout"), img, map[string]string{imgspecv1.AnnotationRefName: "v1"})
	enginetest.WriteOCIArchive(t, filepath.Join(outside, "secret.oci.tar"), img, nil)
	if err := os.CopyFS(filepath.Join(allowed, "dirimage"), os.DirFS(filepath.Join("..", "testdata", "Capital!@Dir"))); err != nil {
		t.Fatal(err)
	}
	// Links that lead out of the allowed directory.
	must(t, os.Symlink(outside, filepath.Join(allowed, "escape")))
	must(t, os.Symlink(filepath.Join(outside, "secret.oci.tar"), filepath.Join(allowed, "secret.oci.tar")))
	layers, err := img.Layers()
	must(t, err)
	l := &localEnv{allowed: allowed, outside: outside, id: enginetest.ID(t, img)}
	for _, layer := range layers {
		d, err := layer.Digest()
		must(t, err)
		diffID, err := layer.DiffID()
		must(t, err)
		l.layers = append(l.layers, [2]string{d.String(), diffID.String()})
	}
	l.env = newEnv(t, withHandlerOptions(Options{AllowedPaths: []string{allowed}}))
	return l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// With --allow-path, oci-archive:, docker-archive:, oci: and dir: under
// the allowed directory are pulled through the endpoint with per-blob
// pullProgress, as a registry pull, and end with success (issue 13 A).
func TestLocalTransportsThroughPull(t *testing.T) {
	l := newLocalEnv(t)
	cases := []struct {
		ref     string
		id      string // "" for dir: (the fixture is another image)
		layered bool   // the two-layer image: its layers show in pullProgress
	}{
		{"oci-archive:" + filepath.Join(l.allowed, "app.oci.tar"), l.id, true},
		{"docker-archive:" + filepath.Join(l.allowed, "app.docker.tar"), l.id, true},
		{"oci:" + filepath.Join(l.allowed, "layout") + ":v1", l.id, true},
		// ".." and a link that stays inside resolve under the directory.
		{"oci-archive:" + filepath.Join(l.allowed, "layout", "..", "app.oci.tar"), l.id, true},
		{"dir:" + filepath.Join(l.allowed, "dirimage"), "", false},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			res := bootcPull(t, l.pull(t, q("reference", c.ref, "policy", "always", "pullProgress", "true"), nil))
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %+v", res.status, res.errBody)
			}
			if res.final.Status != "success" || len(res.final.Images) != 1 || res.final.ID == "" {
				t.Fatalf("last line %+v, want success with one image", res.final)
			}
			if c.id != "" && res.final.ID != c.id {
				t.Errorf("image %s, want %s", res.final.ID, c.id)
			}
			if len(res.blobs) == 0 {
				t.Fatal("no pullProgress line")
			}
			if !c.layered {
				return
			}
			for _, layer := range l.layers {
				steps := res.blobs[layer[0]]
				if len(steps) == 0 {
					steps = res.blobs[layer[1]]
				}
				if len(steps) == 0 {
					t.Errorf("no pullProgress for layer %s: %v", layer, res.blobs)
					continue
				}
				if last := steps[len(steps)-1]; last != "success" && last != "skipped" {
					t.Errorf("layer %s ends with %+v", layer, last)
				}
			}
		})
	}
}

// Paths outside the allowed directories — directly, through "..", through
// a symlink — are 403 with a message saying so, and never read; a missing
// archive inside is 404 before any stream; docker-daemon: is 403; relative
// paths are 400.
func TestLocalTransportsRefused(t *testing.T) {
	l := newLocalEnv(t)
	for _, c := range []struct {
		ref    string
		status int
		msg    string
	}{
		{"oci-archive:" + filepath.Join(l.outside, "secret.oci.tar"), http.StatusForbidden, "outside the directories this server allows"},
		{"oci-archive:" + filepath.Join(l.allowed, "..", filepath.Base(l.outside), "secret.oci.tar"), http.StatusForbidden, "outside the directories"},
		{"oci-archive:" + filepath.Join(l.allowed, "escape", "secret.oci.tar"), http.StatusForbidden, "outside the directories"},
		{"oci-archive:" + filepath.Join(l.allowed, "secret.oci.tar"), http.StatusForbidden, "outside the directories"},
		{"dir:" + l.outside, http.StatusForbidden, "outside the directories"},
		{"docker-archive:/etc/passwd", http.StatusForbidden, "outside the directories"},
		{"oci-archive:" + filepath.Join(l.allowed, "missing.oci.tar"), http.StatusNotFound, "missing.oci.tar"},
		{"docker-archive:" + filepath.Join(l.allowed, "missing.tar"), http.StatusNotFound, "missing.tar"},
		{"oci:" + filepath.Join(l.allowed, "layout") + ":nosuchref", http.StatusNotFound, "nosuchref"},
		{"docker-daemon:alpine:latest", http.StatusForbidden, "docker-daemon"},
		{"containers-storage:alpine", http.StatusBadRequest, "only docker transport"},
		{"oci-archive:app.oci.tar", http.StatusBadRequest, "absolute"},
	} {
		t.Run(c.ref, func(t *testing.T) {
			res := bootcPull(t, l.pull(t, q("reference", c.ref, "pullProgress", "true"), nil))
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %+v", res.status, c.status, res.errBody)
			}
			if !strings.Contains(res.errBody.Message, c.msg) || res.errBody.ResponseCode != c.status {
				t.Errorf("body %+v does not say %q", res.errBody, c.msg)
			}
		})
	}
	if imgs, _ := l.e.Store().Images(); len(imgs) != 0 {
		t.Errorf("refused pulls stored %d images", len(imgs))
	}
}

// Without Options.AllowedPaths the handler keeps libpod's rule: registry names
// only, 400 for every other transport.
func TestLocalTransportsOffByDefault(t *testing.T) {
	v := newEnv(t)
	dir := t.TempDir()
	enginetest.WriteOCIArchive(t, filepath.Join(dir, "a.tar"), enginetest.NewImage(t), nil)
	for _, ref := range []string{"oci-archive:" + filepath.Join(dir, "a.tar"), "dir:" + dir, "docker-daemon:alpine:latest"} {
		m := v.pull(t, q("reference", ref), nil).errorBody(t, http.StatusBadRequest)
		if !strings.Contains(m.Message, "only docker transport is supported") {
			t.Errorf("%s: %q", ref, m.Message)
		}
	}
}

// containers-storage: names another store only when the handler (and the
// engine) allow it; a store it does not allow is 403 and is not created.
func TestLocalStoreAllowed(t *testing.T) {
	base := t.TempDir()
	notAllowed := filepath.Join(base, "not-allowed")
	other := enginetest.NewEngine(t)
	if _, err := other.Pull(t.Context(), "oci-archive:"+filepath.Join("..", "testdata", "hello.oci.tar"), policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	s := other.Store()
	v := newEnv(t, withEngineOptions(enginetest.WithEngineOptions(func(o *engine.Options) {
		o.AllowedStores = []string{s.GraphRoot()}
	})))
	driver := s.GraphDriverName()
	ok := "containers-storage:[" + driver + "@" + s.GraphRoot() + "]localhost/pullengine/hello:1.0"
	if lines := v.pull(t, q("reference", ok), nil).lines(t); lines[len(lines)-1].Status != "success" {
		t.Errorf("pull from the allowed store: %+v", lines[len(lines)-1])
	}
	missing := "containers-storage:[" + driver + "@" + s.GraphRoot() + "]localhost/nosuch:1.0"
	v.pull(t, q("reference", missing, "pullProgress", "true"), nil).errorBody(t, http.StatusNotFound)
	refused := "containers-storage:[vfs@" + notAllowed + "]alpine"
	m := v.pull(t, q("reference", refused), nil).errorBody(t, http.StatusForbidden)
	if !strings.Contains(m.Message, "--allow-store") {
		t.Errorf("message %q", m.Message)
	}
	if _, err := os.Stat(notAllowed); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused store's directory exists: %v", err)
	}
}

// withEngineOptions adds options of the env's engine.
func withEngineOptions(o ...enginetest.EngineOption) envOption {
	return func(c *envConfig) { c.engOpts = append(c.engOpts, o...) }
}
