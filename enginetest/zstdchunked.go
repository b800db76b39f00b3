package enginetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// zstd:chunked images, the input of partial pulls.
//
// A zstd:chunked layer is zstd-compressed with every file (or chunk of a
// big file) in a frame of its own and a table of contents at the end, so a
// store that already holds some files can fetch only the others, with one
// multi-range request. The kit makes such images the way users do, by
// pushing with containers/image and zstd:chunked compression
// (`podman push --compression-format zstd:chunked`).

// PushZstdChunked stores img in the registry under ref ("repo:tag", no
// host) with every layer recompressed to zstd:chunked, and returns the
// digest of the manifest pushed (an OCI manifest: zstd needs one). The
// pushed blobs differ from img's own, so read sizes and digests from the
// registry (BlobSizes), not from img.
func (r *Registry) PushZstdChunked(t testing.TB, ref string, img v1.Image) digest.Digest {
	t.Helper()
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	WriteOCILayout(t, layoutDir, img, map[string]string{AnnotationRefName: "src"})
	src, err := layout.ParseReference(layoutDir + ":src")
	must(t, err)
	dst, err := docker.ParseReference("//" + r.pushHost() + "/" + ref)
	must(t, err)
	sys := pushSystemContext(t, dir)
	chunked := sys
	chunked.CompressionFormat = &compression.ZstdChunked
	pc, err := signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
	must(t, err)
	defer func() { _ = pc.Destroy() }()
	manifest, err := copy.Image(context.Background(), pc, dst, src, &copy.Options{
		SourceCtx:              &sys,
		DestinationCtx:         &chunked,
		ForceCompressionFormat: true,
	})
	if err != nil {
		t.Fatalf("enginetest: pushing %s as zstd:chunked: %v", ref, err)
	}
	return digest.FromBytes(manifest)
}

// pushSystemContext is a hermetic SystemContext for the kit's own pushes
// over plain HTTP: every configuration path lies in dir.
func pushSystemContext(t testing.TB, dir string) types.SystemContext {
	t.Helper()
	conf := filepath.Join(dir, "registries.conf")
	must(t, os.WriteFile(conf, nil, 0o600))
	return types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: conf + ".d",
		RegistriesDirPath:           filepath.Join(dir, "registries.d"),
		AuthFilePath:                filepath.Join(dir, "auth.json"),
		BlobInfoCacheDir:            filepath.Join(dir, "cache"),
		BigFilesTemporaryDir:        dir,
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
	}
}

// RandomFiles returns n files of size random (incompressible) bytes each,
// named prefix + "NNNNN.bin". The same seed gives the same files. Keep "/"
// out of prefix: the kit's layers have no directory entries, and a partial
// pull that copies a file from another layer does not create missing
// parent directories.
func RandomFiles(prefix string, seed uint64, n, size int) Files {
	rng := rand.NewChaCha8(seedBytes(seed))
	files := make(Files, n)
	for i := range n {
		b := make([]byte, size)
		_, _ = rng.Read(b)
		files[fmt.Sprintf("%s%05d.bin", prefix, i)] = string(b)
	}
	return files
}

// ChangeFiles returns a copy of files in which a fraction (0..1] of them,
// spread evenly in path order and at least one, has new random content of
// the same size, and the paths changed. The same seed gives the same
// changes.
func ChangeFiles(files Files, fraction float64, seed uint64) (Files, []string) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	want := max(1, int(float64(len(paths))*fraction+0.5))
	step := max(1, len(paths)/want)
	rng := rand.NewChaCha8(seedBytes(seed))
	out := make(Files, len(files))
	for p, c := range files {
		out[p] = c
	}
	var changed []string
	for i := 0; i < len(paths) && len(changed) < want; i += step {
		b := make([]byte, len(files[paths[i]]))
		_, _ = rng.Read(b)
		out[paths[i]] = string(b)
		changed = append(changed, paths[i])
	}
	return out, changed
}

// seedBytes spreads a seed into a ChaCha8 key.
func seedBytes(seed uint64) [32]byte {
	var k [32]byte
	for i := range 8 {
		k[i] = byte(seed >> (8 * i))
	}
	return k
}

// Blobs returns the descriptors of the config and the layers of the image
// stored under ref ("repo:tag" or "repo@digest", no host), as the registry
// holds them: for sizes and digests of what a pull may fetch.
func (r *Registry) Blobs(t testing.TB, ref string) []v1.Descriptor {
	t.Helper()
	nref, err := name.ParseReference(r.pushHost()+"/"+ref, name.Insecure)
	must(t, err)
	img, err := remote.Image(nref)
	must(t, err)
	m, err := img.Manifest()
	must(t, err)
	return append([]v1.Descriptor{m.Config}, m.Layers...)
}

// BlobsSize is the sum of the sizes of descs.
func BlobsSize(descs []v1.Descriptor) int64 {
	var n int64
	for _, d := range descs {
		n += d.Size
	}
	return n
}
