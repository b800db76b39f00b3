package engine_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
)

// TestTransportNaming pulls from each transport and checks the names the
// image is stored under (design.md's table).
func TestTransportNaming(t *testing.T) {
	dir := t.TempDir()
	img := enginetest.NewImage(t, enginetest.OCI())
	id := enginetest.ID(t, img)
	path := func(name string) string { return filepath.Join(dir, name) }

	enginetest.WriteOCIArchive(t, path("named.oci.tar"), img, map[string]string{enginetest.AnnotationRefName: "pretty:1"})
	enginetest.WriteOCIArchive(t, path("containerd.oci.tar"), img, map[string]string{
		enginetest.AnnotationRefName: "oci", enginetest.AnnotationContainerdName: "example.com/buildkit/app:oci"})
	enginetest.WriteOCIArchive(t, path("unnamed.oci.tar"), img, nil)
	enginetest.WriteOCIArchive(t, path("upper.oci.tar"), img, map[string]string{enginetest.AnnotationRefName: "UPPERCASE-IS-INVALID"})
	enginetest.WriteDockerArchive(t, path("two.docker.tar"), img, "example.com/empty:latest", "pretty-empty:latest")
	enginetest.WriteDockerArchive(t, path("unnamed.docker.tar"), img)
	enginetest.WriteOCILayout(t, path("layout"), img, map[string]string{enginetest.AnnotationRefName: "quay.io/foo/bar:v1"})
	enginetest.WriteOCILayout(t, path("layout-tag"), img, map[string]string{enginetest.AnnotationRefName: "v1.0"})
	copyTo(t, "oci:"+path("layout")+":quay.io/foo/bar:v1", "dir:"+path("Dir-With-CapitalChar"))

	cases := []struct {
		ref   string
		names []string // nil: stored by ID only
		kind  pullerrors.Kind
	}{
		{ref: "oci-archive:../testdata/hello.oci.tar", names: []string{"localhost/pullengine/hello:1.0"}},
		{ref: "docker-archive:../testdata/hello.docker.tar", names: []string{"localhost/pullengine/hello:1.0"}},
		{ref: "oci-archive:" + path("named.oci.tar"), names: []string{"localhost/pretty:1"}},
		{ref: "oci-archive:" + path("containerd.oci.tar"), names: []string{"example.com/buildkit/app:oci"}},
		{ref: "oci-archive:" + path("unnamed.oci.tar")},
		{ref: "oci-archive:" + path("upper.oci.tar"), kind: pullerrors.InvalidReference},
		{ref: "docker-archive:" + path("two.docker.tar"), names: []string{"example.com/empty:latest", "localhost/pretty-empty:latest"}},
		{ref: "docker-archive:" + path("unnamed.docker.tar")},
		{ref: "oci:" + path("layout") + ":quay.io/foo/bar:v1", names: []string{"quay.io/foo/bar:v1"}},
		{ref: "oci:" + path("layout-tag") + ":v1.0"},
		{ref: "oci:" + path("layout-tag")},
		{ref: "dir:" + path("Dir-With-CapitalChar")},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.ref), func(t *testing.T) {
			e := enginetest.NewEngine(t)
			res, err := e.Pull(context.Background(), c.ref, policy.Missing, nil)
			if c.kind != pullerrors.Internal {
				if k := pullerrors.Classify(err); k != c.kind {
					t.Fatalf("error %v (kind %v), want kind %v", err, k, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Images) != 1 || res.Outcome != engine.Pulled {
				t.Fatalf("result %+v: want one pulled image", res)
			}
			got := res.Images[0]
			if c.names != nil && !sameSet(got.Names, c.names) {
				t.Errorf("names %v, want %v", got.Names, c.names)
			}
			if c.names == nil && len(got.Names) != 0 {
				t.Errorf("names %v, want none (stored by ID)", got.Names)
			}
			if !strings.Contains(c.ref, "testdata") && got.ID != id {
				t.Errorf("ID %s, want %s", got.ID, id)
			}
			// Found again by ID with no network.
			if _, err := e.Pull(context.Background(), got.ID, policy.Never, nil); err != nil {
				t.Errorf("by ID afterwards: %v", err)
			}
		})
	}
}

// containers-storage: copies from another store, keeping the name.
func TestContainersStorageTransport(t *testing.T) {
	ctx := context.Background()
	other := enginetest.NewEngine(t)
	if _, err := other.Pull(ctx, "oci-archive:../testdata/hello.oci.tar", policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	s := other.Store()
	ref := "containers-storage:[vfs@" + s.GraphRoot() + "+" + s.RunRoot() + "]localhost/pullengine/hello:1.0"

	e := enginetest.NewEngine(t)
	res, err := e.Pull(ctx, ref, policy.Missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Images[0].Names, "localhost/pullengine/hello:1.0") {
		t.Errorf("names %v", res.Images[0].Names)
	}
}

// copyTo copies between two transport references with c/image, to make
// fixtures in formats the kit does not write (dir:).
func copyTo(t *testing.T, from, to string) {
	t.Helper()
	src, err := alltransports.ParseImageName(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := alltransports.ParseImageName(to)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Destroy()
	if _, err := copy.Image(context.Background(), pc, dst, src, &copy.Options{}); err != nil {
		t.Fatal(err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
