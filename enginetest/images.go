package enginetest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"runtime"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// Files is the content of one layer: path → file content.
type Files map[string]string

// ImageOption configures NewImage.
type ImageOption func(*imageConfig)

type imageConfig struct {
	layers            []Files
	os, arch, variant string
	oci               bool
	labels            map[string]string
}

// WithLayer adds a layer holding files.
func WithLayer(_ testing.TB, files Files) ImageOption {
	return func(c *imageConfig) { c.layers = append(c.layers, files) }
}

// WithRandomLayer adds a gzip layer of one file of size random
// (incompressible) bytes.
func WithRandomLayer(t testing.TB, size int64) ImageOption {
	b := make([]byte, size)
	_, _ = rand.Read(b)
	return WithLayer(t, Files{"random.bin": string(b)})
}

// WithPlatform sets the platform the image's config declares (the host's
// by default). Declaring one the content is not built for is how tests make
// images that lie about their platform.
func WithPlatform(os, arch, variant string) ImageOption {
	return func(c *imageConfig) { c.os, c.arch, c.variant = os, arch, variant }
}

// WithLabels sets config labels (a cheap way to make two images differ).
func WithLabels(labels map[string]string) ImageOption {
	return func(c *imageConfig) { c.labels = labels }
}

// OCI makes the image use OCI media types instead of Docker schema 2.
func OCI() ImageOption { return func(c *imageConfig) { c.oci = true } }

// NewImage builds an image in memory. With no layer option it has one small
// layer, so every image can be pulled into a store.
func NewImage(t testing.TB, opts ...ImageOption) v1.Image {
	t.Helper()
	c := imageConfig{os: runtime.GOOS, arch: runtime.GOARCH}
	for _, o := range opts {
		o(&c)
	}
	if len(c.layers) == 0 {
		c.layers = append(c.layers, Files{"hello.txt": "hello from enginetest\n"})
	}
	base, layerType := empty.Image, types.DockerLayer
	if c.oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
		layerType = types.OCILayer
	}
	layers := make([]v1.Layer, len(c.layers))
	for i, files := range c.layers {
		layers[i] = layerFromFiles(t, files, layerType)
	}
	img, err := mutate.AppendLayers(base, layers...)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = c.os, c.arch, c.variant
	cf.Config.Labels = c.labels
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	return img
}

// Digest returns the manifest digest of img.
func Digest(t testing.TB, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.Digest()
	must(t, err)
	return digest.Digest(h.String())
}

// ID returns the image ID a store gives img: its config digest's hex.
func ID(t testing.TB, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	must(t, err)
	return h.Hex
}

// Push stores a one-layer image holding files in the registry under ref
// ("repo:tag", without the host) and returns it.
func (r *Registry) Push(t testing.TB, ref string, files Files) v1.Image {
	t.Helper()
	img := NewImage(t, WithLayer(t, files))
	r.PushImage(t, ref, img)
	return img
}

// PushImage stores img in the registry under ref ("repo:tag", no host).
func (r *Registry) PushImage(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.ParseReference(r.pushHost()+"/"+ref, name.Insecure)
	must(t, err)
	must(t, remote.Write(tag, img))
}

// PushIndex stores a manifest list of imgs under ref and returns it.
func (r *Registry) PushIndex(t testing.TB, ref string, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	return r.PushIndexEntries(t, ref, entriesOf(t, imgs)...)
}

// PushIndexEntries stores a manifest list of entries under ref: the way
// to make a list whose entries claim other platforms than their configs.
func (r *Registry) PushIndexEntries(t testing.TB, ref string, entries ...IndexEntry) v1.ImageIndex {
	t.Helper()
	idx := NewIndexEntries(t, entries...)
	tag, err := name.ParseReference(r.pushHost()+"/"+ref, name.Insecure)
	must(t, err)
	must(t, remote.WriteIndex(tag, idx))
	return idx
}

// IndexEntry is one image of a manifest list with the platform the list
// claims for it.
type IndexEntry struct {
	Image                     v1.Image
	OS, Architecture, Variant string
}

// NewIndex builds a manifest list (Docker) of imgs, each entry carrying the
// platform its config declares.
func NewIndex(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	return NewIndexEntries(t, entriesOf(t, imgs)...)
}

// NewIndexEntries builds a manifest list (Docker) of entries.
func NewIndexEntries(t testing.TB, entries ...IndexEntry) v1.ImageIndex {
	t.Helper()
	adds := make([]mutate.IndexAddendum, len(entries))
	for i, e := range entries {
		mt, err := e.Image.MediaType()
		must(t, err)
		adds[i] = mutate.IndexAddendum{Add: e.Image, Descriptor: v1.Descriptor{
			MediaType: mt,
			Platform:  &v1.Platform{OS: e.OS, Architecture: e.Architecture, Variant: e.Variant},
		}}
	}
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	return mutate.AppendManifests(idx, adds...)
}

// entriesOf makes an entry per image with the platform its config declares.
func entriesOf(t testing.TB, imgs []v1.Image) []IndexEntry {
	t.Helper()
	entries := make([]IndexEntry, len(imgs))
	for i, img := range imgs {
		cf, err := img.ConfigFile()
		must(t, err)
		entries[i] = IndexEntry{Image: img, OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}
	return entries
}

// Delete removes ref's manifest from the registry (e.g. a tag), so pulls
// of it fail with MANIFEST_UNKNOWN.
func (r *Registry) Delete(t testing.TB, ref string) {
	t.Helper()
	tag, err := name.ParseReference(r.pushHost()+"/"+ref, name.Insecure)
	must(t, err)
	must(t, remote.Delete(tag))
}

// layerFromFiles builds a gzip layer whose tar holds files, in path order
// so the same files always give the same digest.
func layerFromFiles(t testing.TB, files Files, mediaType types.MediaType) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		must(t, tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), Typeflag: tar.TypeReg}))
		_, err := io.WriteString(tw, files[p])
		must(t, err)
	}
	must(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(mediaType))
	must(t, err)
	return l
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
}
