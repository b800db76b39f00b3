package engine_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// A local source that is truncated or corrupt is not a registry outage:
// the pull fails with Integrity, naming the source's path and not a
// registry, after one attempt (reading the same file again fails the same
// way), and nothing is stored. With and without Limits (which wrap the
// source in the engine's reader).
func TestTransportCorruptLocalSource(t *testing.T) {
	dir := t.TempDir()
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithRandomLayer(t, 512<<10))

	archive := filepath.Join(dir, "cut.oci.tar")
	enginetest.WriteOCIArchive(t, archive, img, nil)
	cutInHalf(t, archive)
	dockerArchive := filepath.Join(dir, "cut.docker.tar")
	enginetest.WriteDockerArchive(t, dockerArchive, img, "localhost/cut:1")
	cutInHalf(t, dockerArchive)
	layout := filepath.Join(dir, "layout")
	enginetest.WriteOCILayout(t, layout, img, nil)
	cutInHalf(t, largestFile(t, filepath.Join(layout, "blobs", "sha256")))
	dirSrc := filepath.Join(dir, "dir")
	if err := os.CopyFS(dirSrc, os.DirFS(td+"Capital!@Dir")); err != nil {
		t.Fatal(err)
	}
	dirManifest := readJSON[v1.Manifest](t, filepath.Join(dirSrc, "manifest.json"))
	cutInHalf(t, filepath.Join(dirSrc, dirManifest.Layers[0].Digest.Hex))
	tarball := filepath.Join(dir, "cut.tar.gz")
	writeLayerBlob(t, tarball, img)
	cutInHalf(t, tarball)

	for _, c := range []struct{ name, ref, path string }{
		{"oci-archive", "oci-archive:" + archive, archive},
		{"docker-archive", "docker-archive:" + dockerArchive, dockerArchive},
		{"oci layout, layer cut short", "oci:" + layout, layout},
		{"dir, layer cut short", "dir:" + dirSrc, dirSrc},
		{"tarball", "tarball:" + tarball, tarball},
	} {
		for _, limits := range []bool{false, true} {
			name := c.name
			if limits {
				name += "/limits"
			}
			t.Run(name, func(t *testing.T) {
				opts := enginetest.NewEngineOptions(t)
				if limits {
					opts.Limits = engine.Limits{MaxImageSize: 1 << 30}
				}
				e := newEngine(t, opts)
				var log eventLog
				_, err := e.Pull(context.Background(), c.ref, policy.Always,
					&engine.PullOptions{MaxRetries: ptr(3), RetryDelay: time.Millisecond, Progress: &log})
				t.Logf("%v", err)
				if k := pullerrors.Classify(err); k != pullerrors.Integrity {
					t.Errorf("kind %v, want integrity: %v", k, err)
				}
				if s := pullerrors.HTTPStatus(err); s != 502 {
					t.Errorf("status %d, want 502", s)
				}
				if pullerrors.Retryable(err) {
					t.Error("retryable")
				}
				if n := len(log.of(progress.Retrying)); n != 0 {
					t.Errorf("%d retries, want one attempt", n)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.path) || strings.Contains(strings.ToLower(msg), "registry") {
					t.Errorf("the message does not name %s, or names a registry: %q", c.path, msg)
				}
				if imgs, err := e.Store().Images(); err != nil || len(imgs) != 0 {
					t.Errorf("images stored: %d, %v", len(imgs), err)
				}
				if layers, err := e.Store().Layers(); err != nil || len(layers) != 0 {
					t.Errorf("layers stored: %d, %v", len(layers), err)
				}
			})
		}
	}
}

// writeLayerBlob writes img's first layer blob (a gzip tar) to path: a
// tarball: source.
func writeLayerBlob(t *testing.T, path string, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cutInHalf truncates the file at path to half its size.
func cutInHalf(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// largestFile is the path of the largest regular file in dir (a layer).
func largestFile(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var largest string
	var size int64 = -1
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().IsRegular() && fi.Size() > size {
			largest, size = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	return largest
}
