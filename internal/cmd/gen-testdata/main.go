// Command gen-testdata writes the fixtures in testdata/ that the README's
// first command and the transport tests pull from. Run it from the
// repository root:
//
//	go run ./internal/cmd/gen-testdata
//
// The output is committed; rerun only to change the fixtures.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	if err := generate("testdata"); err != nil {
		fmt.Fprintln(os.Stderr, "gen-testdata:", err)
		os.Exit(1)
	}
}

// generate writes hello.oci.tar (oci-archive named pullengine/hello:1.0)
// and hello.docker.tar (docker-archive tagged pullengine/hello:1.0): a
// three-layer linux/amd64 image of a few kilobytes.
func generate(dir string) error {
	img, err := helloImage()
	if err != nil {
		return err
	}
	if err := writeOCIArchive(filepath.Join(dir, "hello.oci.tar"), img, "pullengine/hello:1.0"); err != nil {
		return err
	}
	tag, err := name.NewTag("pullengine/hello:1.0")
	if err != nil {
		return err
	}
	return tarball.WriteToFile(filepath.Join(dir, "hello.docker.tar"), tag, img)
}

func helloImage() (v1.Image, error) {
	layers := []map[string]string{
		{"etc/os-release": "NAME=pullengine-testdata\n"},
		{"usr/share/hello/README": "A fixture for pullengine's README and tests.\n"},
		{"usr/share/hello/greeting": "hello, world\n"},
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img := base
	for _, files := range layers {
		l, err := layer(files)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/cat", "/usr/share/hello/greeting"}
	return mutate.ConfigFile(img, cf)
}

func layer(files map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
}

func writeOCIArchive(path string, img v1.Image, refName string) error {
	dir, err := os.MkdirTemp("", "gen-testdata-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName})); err != nil {
		return err
	}
	return tarDir(dir, path)
}

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
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.ModTime, hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = hdr.ModTime.Truncate(0).UTC(), "", "", 0, 0
		if err := tw.WriteHeader(hdr); err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(data)
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
