package enginetest

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotation keys naming an image in an OCI index.
const (
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationContainerdName = "io.containerd.image.name"
)

// WriteOCILayout writes img into an OCI layout directory (created if
// needed), its index entry annotated with annotations (e.g.
// AnnotationRefName: "v1").
func WriteOCILayout(t testing.TB, dir string, img v1.Image, annotations map[string]string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		p, err = layout.Write(dir, empty.Index)
		must(t, err)
	}
	must(t, p.AppendImage(img, layout.WithAnnotations(annotations)))
}

// WriteOCIArchive writes img as an oci-archive (a tar of an OCI layout) to
// path, as `podman save --format oci-archive` and BuildKit do.
func WriteOCIArchive(t testing.TB, path string, img v1.Image, annotations map[string]string) {
	t.Helper()
	dir := t.TempDir()
	WriteOCILayout(t, dir, img, annotations)
	must(t, tarDir(dir, path))
}

// WriteDockerArchive writes img as a docker-archive (`docker save`) to
// path, with the given RepoTags ("name:tag"); no tag writes an unnamed
// image.
func WriteDockerArchive(t testing.TB, path string, img v1.Image, tags ...string) {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for _, tag := range tags {
		ref, err := name.NewTag(tag, name.WeakValidation)
		must(t, err)
		refs[ref] = img
	}
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	if len(refs) == 0 {
		must(t, tarball.Write(nil, img, f))
		return
	}
	must(t, tarball.MultiRefWrite(refs, f))
}

// tarDir writes the files under dir into a tar at path.
func tarDir(dir, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil || d.IsDir() {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
