package enginetest

import (
	"archive/tar"
	"fmt"
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
	"github.com/pullengine/pullengine/internal/fixtures"
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

// DockerArchiveFormat is the tool whose docker-archive layout
// WriteDockerArchiveAs imitates. All have a manifest.json listing config
// and layer paths and RepoTags per image; they differ in where those files
// are and what else the tar holds, and a reader must accept them all.
type DockerArchiveFormat int

// The docker-archive layouts in the wild.
const (
	// GGCRArchive is go-containerregistry's tarball (crane, ko; what
	// WriteDockerArchive writes): config "sha256:<hex>", gzip layers
	// "<hex>.tar.gz".
	GGCRArchive DockerArchiveFormat = iota
	// DockerSaveArchive is `docker save` since Docker 25: an OCI layout
	// with uncompressed layers in blobs/sha256/ and a manifest.json pointing
	// into it; index.json names each tag, so it is an oci-archive too.
	DockerSaveArchive
	// DockerSaveLegacyArchive is `docker save` before Docker 25:
	// "<id>/layer.tar" per layer, config "<hex>.json".
	DockerSaveLegacyArchive
	// PodmanSaveArchive is `podman save`, written by c/image's own
	// docker-archive writer: layers "<hex>.tar", config "<hex>.json",
	// "<id>/layer.tar" symlinks, RepoTags fully qualified.
	PodmanSaveArchive
)

// ArchiveImage is one image of a docker-archive with its RepoTags; no tag
// writes an image saved by ID.
type ArchiveImage struct {
	Image v1.Image
	Tags  []string
}

// WriteDockerArchiveAs writes images as one docker-archive at path in the
// layout of format, e.g. two images as `podman save -m` does, or one image
// with two tags as `docker save a b` does.
func WriteDockerArchiveAs(t testing.TB, path string, format DockerArchiveFormat, images ...ArchiveImage) {
	t.Helper()
	fi := make([]fixtures.ArchiveImage, len(images))
	for i, ai := range images {
		fi[i] = fixtures.ArchiveImage{Image: ai.Image, Tags: ai.Tags}
	}
	var f fixtures.DockerFormat
	switch format {
	case GGCRArchive:
		f = fixtures.GGCR
	case DockerSaveArchive:
		f = fixtures.DockerSave
	case DockerSaveLegacyArchive:
		f = fixtures.DockerSaveLegacy
	case PodmanSaveArchive:
		f = fixtures.PodmanSave
	default:
		t.Fatalf("enginetest: unknown DockerArchiveFormat %d", format)
	}
	must(t, fixtures.WriteDockerArchive(path, f, fi...))
}

// String names the tool, e.g. "podman save".
func (f DockerArchiveFormat) String() string {
	switch f {
	case GGCRArchive:
		return fixtures.GGCR.String()
	case DockerSaveArchive:
		return fixtures.DockerSave.String()
	case DockerSaveLegacyArchive:
		return fixtures.DockerSaveLegacy.String()
	case PodmanSaveArchive:
		return fixtures.PodmanSave.String()
	}
	return fmt.Sprintf("DockerArchiveFormat(%d)", int(f))
}

// WriteHybridArchive writes img as BuildKit's docker exporter does: one tar
// that is a docker-archive (manifest.json with repoTags) and an oci-archive
// (index.json, its entry annotated with annotations, e.g.
// AnnotationContainerdName: "example.com/app:oci", AnnotationRefName: "oci").
func WriteHybridArchive(t testing.TB, path string, img v1.Image, repoTags []string, annotations map[string]string) {
	t.Helper()
	must(t, fixtures.WriteHybridArchive(path, img, repoTags, annotations))
}

// WriteOCILayoutIndex writes a multi-arch index (and its instances) as the
// one entry of a new OCI layout directory dir, annotated with annotations.
func WriteOCILayoutIndex(t testing.TB, dir string, idx v1.ImageIndex, annotations map[string]string) {
	t.Helper()
	must(t, fixtures.WriteOCILayout(dir, fixtures.Entry{Index: idx, Annotations: annotations}))
}

// WriteOCIArchiveIndex writes a multi-arch index (and its instances) as an
// oci-archive at path, its index entry annotated with annotations.
func WriteOCIArchiveIndex(t testing.TB, path string, idx v1.ImageIndex, annotations map[string]string) {
	t.Helper()
	must(t, fixtures.WriteOCIArchive(path, fixtures.Entry{Index: idx, Annotations: annotations}))
}
