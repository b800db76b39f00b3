package engine_test

// The fast path's result read by the real clients (issue 23 item 4):
// podman 4.3.1 lists, inspects and runs a fast-path image; skopeo copies
// it out with the config's diff IDs; a second image sharing a layer
// fetches nothing of that layer. The podman and skopeo tests skip, with
// the reason, only where the binary is absent.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// helloOutput is what the static program of helloImage prints.
const helloOutput = "hello from the fast path"

// staticHello builds a static Go program that prints helloOutput and
// returns its bytes.
func staticHello(t *testing.T) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		t.Fatalf("building the static program needs the go command: %v", err)
	}
	dir := t.TempDir()
	src := "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"" + helloOutput + "\\n\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-o", "hello", "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the static program: %v: %s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// helloImage is an image of two gzip layers: a base with /etc and a
// static /hello, and a small layer on top; its command runs /hello.
func helloImage(t *testing.T) ggcr.Image {
	t.Helper()
	base := buildLayerTar(t, tDir("etc/", 0o755), tReg("etc/hostname", 0o644, "fastpath\n"), tReg("hello", 0o755, string(staticHello(t))))
	top := buildLayerTar(t, tDir("etc/", 0o755), tReg("etc/motd", 0o644, "on top\n"))
	img := imageOf(t, false, layerOf(t, base, "gzip", false), layerOf(t, top, "gzip", false))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Cmd = []string{"/hello"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// podmanOn runs podman on the store at root and runRoot, hermetically
// (a storage.conf of its own naming the store, no host containers.conf:
// enginetest.Main points it at an empty file; events to a file, cgroupfs,
// a temp dir of its own).
func podmanOn(t *testing.T, podman, root, runRoot string) func(args ...string) (string, error) {
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "storage.conf")
	body := "[storage]\ndriver = \"overlay\"\nrunroot = \"" + runRoot + "\"\ngraphroot = \"" + root + "\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) (string, error) {
		cmd := exec.Command(podman, append([]string{
			"--root", root, "--runroot", runRoot, "--storage-driver", "overlay",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", tmp,
		}, args...)...)
		cmd.Env = append(os.Environ(), "CONTAINERS_STORAGE_CONF="+conf)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return string(out) + stderr.String(), err
		}
		return string(out), nil
	}
}

// podman 4.3.1 lists, inspects and runs an image the fast path stored.
func TestFastPathPodmanListsInspectsRuns(t *testing.T) {
	needOverlay(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed:", err)
	}
	reg := enginetest.NewRegistry(t)
	img := helloImage(t)
	reg.PushImage(t, "fp/hello:v1", img)
	ref := reg.Host + "/fp/hello:v1"
	root, runRoot, id := fastPulledAsserted(t, reg, ref)
	unmountHome(t, root)
	pm := podmanOn(t, podman, root, runRoot)
	t.Cleanup(func() {
		// A refused `run --rm` leaves podman's container clean-up to finish
		// on its own; removing every container takes the same locks, so no
		// podman process still writes in the store when it is removed.
		if out, err := pm("rm", "--all", "--force"); err != nil {
			t.Logf("podman rm --all: %v: %s", err, out)
		}
	})

	out, err := pm("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}}")
	if err != nil {
		t.Fatalf("podman images: %v: %s", err, out)
	}
	want := ref + " sha256:" + id + " " + enginetest.Digest(t, img).String()
	if strings.TrimSpace(out) != want {
		t.Errorf("podman images: %q, want %q", out, want)
	}

	out, err = pm("image", "inspect", ref)
	if err != nil {
		t.Fatalf("podman image inspect: %v: %s", err, out)
	}
	var inspected []struct {
		ID     string
		Digest string
		RootFS struct{ Layers []string }
		Config struct{ Cmd []string }
	}
	if err := json.Unmarshal([]byte(out), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect output: %v: %s", err, out)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var diffIDs []string
	for _, d := range cf.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	got := inspected[0]
	if got.ID != id || got.Digest != enginetest.Digest(t, img).String() || !slices.Equal(got.RootFS.Layers, diffIDs) || !slices.Equal(got.Config.Cmd, []string{"/hello"}) {
		t.Errorf("podman image inspect: %+v; want ID %s, digest %s, layers %v, cmd [/hello]", got, id, enginetest.Digest(t, img), diffIDs)
	}

	// podman reads both layers: its mount of the image has both layers'
	// files.
	if out, err := pm("image", "mount", ref); err != nil {
		t.Errorf("podman image mount: %v: %s", err, out)
	} else {
		mnt := strings.TrimSpace(out)
		for name, want := range map[string]string{"etc/hostname": "fastpath\n", "etc/motd": "on top\n"} {
			if b, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || string(b) != want {
				t.Errorf("%s in podman's mount: %q, %v; want %q", name, b, err, want)
			}
		}
		if out, err := pm("image", "unmount", ref); err != nil {
			t.Errorf("podman image unmount: %v: %s", err, out)
		}
	}

	out, err = pm(append(append([]string{"run", "--rm", "--network", "none"}, runFlags(t)...), ref, "/hello")...)
	if err != nil && runtimeRefused(out) {
		// Not the image: the OCI runtime cannot start any container on
		// this host (see runFlags for what lets it on ours). Listing,
		// inspecting and mounting were asserted above.
		t.Skipf("podman run: the OCI runtime cannot start containers here: %v: %s", err, out)
	}
	if err != nil {
		t.Fatalf("podman run: %v: %s", err, out)
	}
	if strings.TrimSpace(out) != helloOutput {
		t.Errorf("podman run printed %q, want %q", out, helloOutput)
	}
}

// runtimeRefused reports whether podman's output says the OCI runtime was
// refused by the system (exit 126, "OCI permission denied"), not that the
// image is wrong.
func runtimeRefused(out string) bool {
	return strings.Contains(out, "OCI permission denied") || strings.Contains(out, "cgroups in hybrid mode not supported")
}

// unmountHome undoes the private bind mount of root/overlay an external
// client (skopeo 1.9, podman) leaves on the store when it exits without
// shutting the driver down, so the store's temp dir can be removed.
func unmountHome(t *testing.T, root string) {
	t.Cleanup(func() {
		if err := unix.Unmount(filepath.Join(root, "overlay"), unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			t.Logf("unmounting %s/overlay: %v", root, err)
		}
	})
}

// runFlags are the podman run flags that let a container start on a host
// like our CI's sandbox, without changing what is asserted:
//   - resource limits no higher than this process's: podman as root gives
//     the container RLIMIT_NOFILE and RLIMIT_NPROC of 1048576, and the OCI
//     runtime's setrlimit fails without CAP_SYS_RESOURCE (there, even
//     RLIMIT_NPROC at our own limit was refused; 4096 is accepted);
//   - runc when it is installed: crun 1.8 refuses hosts with hybrid
//     cgroups whose cgroup2 mount has controllers ("cgroups in hybrid mode
//     not supported"), runc runs there. .ci/run installs runc.
func runFlags(t *testing.T) []string {
	t.Helper()
	var flags []string
	if runc, err := exec.LookPath("runc"); err == nil {
		flags = append(flags, "--runtime", runc)
	}
	for _, l := range []struct {
		name     string
		resource int
		at       uint64
	}{{"nofile", unix.RLIMIT_NOFILE, 1024}, {"nproc", unix.RLIMIT_NPROC, 4096}} {
		var cur unix.Rlimit
		if err := unix.Getrlimit(l.resource, &cur); err != nil {
			t.Fatal(err)
		}
		n := min(l.at, cur.Cur)
		flags = append(flags, "--ulimit", fmt.Sprintf("%s=%d:%d", l.name, n, n))
	}
	return flags
}

// fastPulledAsserted is fastPulled that also asserts the fast path served.
func fastPulledAsserted(t *testing.T, reg *enginetest.Registry, ref string) (root, runRoot, id string) {
	t.Helper()
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	return pullInto(t, o, ref, engine.PathFast)
}

// pullInto pulls ref into the store of o, asserting the path that served
// it, closes the engine, and returns the store's roots and the image ID.
func pullInto(t *testing.T, o engine.Options, ref, path string) (root, runRoot, id string) {
	t.Helper()
	e, err := engine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Pull(context.Background(), ref, policy.Always, nil)
	if cerr := e.Close(); cerr != nil {
		t.Errorf("closing the engine: %v", cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.Path != path {
		t.Fatalf("%s served by %q, want %q", ref, res.Transfer.Path, path)
	}
	return o.RootDir, o.RunDir, res.Images[0].ID
}

// skopeo copy containers-storage:[overlay@R+RR]IMG oci:DIR copies out the
// fast path's image with layers whose diff IDs are the config's, as it
// does for the image copy.Image stored.
func TestFastPathSkopeoCopiesDiffIDs(t *testing.T) {
	needOverlay(t)
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed:", err)
	}
	reg := enginetest.NewRegistry(t)
	img := imageOf(t, true,
		layerOf(t, buildLayerTar(t, tDir("etc/", 0o755), tReg("etc/a", 0o644, "a\n")), "gzip", true),
		layerOf(t, buildLayerTar(t, tReg("b", 0o600, "b\n")), "zstd", true),
		layerOf(t, buildLayerTar(t, tReg("c", 0o644, "c\n")), "none", true))
	reg.PushImage(t, "fp/three:v1", img)
	ref := reg.Host + "/fp/three:v1"
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var want []digest.Digest
	for _, d := range cf.RootFS.DiffIDs {
		want = append(want, digest.Digest(d.String()))
	}
	policyPath := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyPath, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path string }{{engine.PathFast}, {engine.PathCopy}} {
		o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
			o.DisableFastPath = c.path == engine.PathCopy
		}))
		root, runRoot, _ := pullInto(t, o, ref, c.path)
		unmountHome(t, root)
		dir := filepath.Join(t.TempDir(), "oci")
		src := "containers-storage:[overlay@" + root + "+" + runRoot + "]" + ref
		cmd := exec.Command(skopeo, "--policy", policyPath, "copy", "--quiet", src, "oci:"+dir+":out")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: skopeo copy %s: %v: %s", c.path, src, err, out)
		}
		got, configDiffIDs := ociDiffIDs(t, dir)
		if !slices.Equal(got, want) || !slices.Equal(configDiffIDs, want) {
			t.Errorf("%s: skopeo's copy has layers with diff IDs %v and a config listing %v; want %v", c.path, got, configDiffIDs, want)
		}
	}
}

// ociDiffIDs reads the one image of the OCI layout at dir and returns the
// diff IDs of its layer blobs (each decompressed and hashed) and the
// diff IDs its config lists.
func ociDiffIDs(t *testing.T, dir string) (layers, config []digest.Digest) {
	t.Helper()
	var index imgspecv1.Index
	readJSONBlob(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("the layout holds %d manifests", len(index.Manifests))
	}
	var m imgspecv1.Manifest
	readJSONBlob(t, blobPath(dir, index.Manifests[0].Digest), &m)
	var cfg imgspecv1.Image
	readJSONBlob(t, blobPath(dir, m.Config.Digest), &cfg)
	for _, l := range m.Layers {
		f, err := os.Open(blobPath(dir, l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := archive.DecompressStream(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := digest.FromReader(plain)
		_ = plain.Close()
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d)
	}
	return layers, cfg.RootFS.DiffIDs
}

func blobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func readJSONBlob(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// A second image that shares a layer with one the fast path stored:
// its pull goes through the fast path, sends no GET for the shared blob,
// and stores the registry's manifest digest for the second image.
func TestFastPathSharedLayerNotFetched(t *testing.T) {
	needOverlay(t)
	shared := layerOf(t, buildLayerTar(t, tReg("shared", 0o644, strings.Repeat("s", 300<<10))), "gzip", false)
	first := imageOf(t, false, shared, layerOf(t, buildLayerTar(t, tReg("one", 0o644, "1\n")), "gzip", false))
	second := imageOf(t, true, shared, layerOf(t, buildLayerTar(t, tReg("two", 0o644, "2\n")), "gzip", true))
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "fp/first:v1", first)
	reg.PushImage(t, "fp/second:v1", second)
	sharedDigest, err := shared.Digest()
	if err != nil {
		t.Fatal(err)
	}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	if res, err := e.Pull(ctx, reg.Host+"/fp/first:v1", policy.Always, nil); err != nil || res.Transfer.Path != engine.PathFast {
		t.Fatalf("first pull: %+v, %v", res, err)
	}
	reg.Requests.Reset()
	res, err := e.Pull(ctx, reg.Host+"/fp/second:v1", policy.Always, nil)
	if err != nil || res.Transfer.Path != engine.PathFast {
		t.Fatalf("second pull: %+v, %v", res, err)
	}
	var sharedGets, blobGets int
	for _, l := range reg.Requests.Log() {
		if strings.HasPrefix(l, "GET ") && strings.Contains(l, "/blobs/") {
			blobGets++
			if strings.HasSuffix(l, "/blobs/"+sharedDigest.String()) {
				sharedGets++
			}
		}
	}
	if sharedGets != 0 || blobGets != 2 { // the config and the second layer
		t.Errorf("second pull: %d GETs of the shared blob, %d blob GETs in all (want 0 and 2): %v", sharedGets, blobGets, reg.Requests.Log())
	}
	if res.Transfer.BlobsReused != 1 {
		t.Errorf("second pull reused %d blobs, want 1", res.Transfer.BlobsReused)
	}
	wantDigest := enginetest.Digest(t, second)
	stored, err := e.Store().Image(res.Images[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Digest != wantDigest || res.Images[0].Digest != wantDigest {
		t.Errorf("stored digest %s, result digest %s; the registry's is %s", stored.Digest, res.Images[0].Digest, wantDigest)
	}
	raw, err := e.Store().ImageBigData(stored.ID, "manifest-"+wantDigest.String())
	if err != nil || digest.FromBytes(raw) != wantDigest {
		t.Errorf("the stored manifest under %s: %v (digest %s)", wantDigest, err, digest.FromBytes(raw))
	}
}
