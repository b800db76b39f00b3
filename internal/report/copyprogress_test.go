package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

const (
	layerType  = "application/vnd.oci.image.layer.v1.tar+gzip"
	configType = "application/vnd.oci.image.config.v1+json"
)

func TestFromCopy(t *testing.T) {
	d := digest.FromString("x")
	now := time.Unix(1, 0)
	layer := types.BlobInfo{Digest: d, Size: 100, MediaType: layerType}
	tests := []struct {
		in   types.ProgressProperties
		want progress.Event
		ok   bool
	}{
		{types.ProgressProperties{Event: types.ProgressEventNewArtifact, Artifact: layer},
			progress.Event{Kind: progress.BlobStarted, Digest: d, Total: 100}, true},
		{types.ProgressProperties{Event: types.ProgressEventRead, Artifact: layer, Offset: 40, OffsetUpdate: 40},
			progress.Event{Kind: progress.BlobProgress, Digest: d, Current: 40, Total: 100}, true},
		{types.ProgressProperties{Event: types.ProgressEventDone, Artifact: layer, Offset: 100},
			progress.Event{Kind: progress.BlobDone, Digest: d, Current: 100, Total: 100}, true},
		{types.ProgressProperties{Event: types.ProgressEventSkipped, Artifact: layer},
			progress.Event{Kind: progress.BlobSkipped, Digest: d, Total: 100}, true},
		{types.ProgressProperties{Event: types.ProgressEventNewArtifact, Artifact: types.BlobInfo{Digest: d, Size: -1}},
			progress.Event{Kind: progress.BlobStarted, Digest: d, Total: -1}, true},
		{types.ProgressProperties{Event: types.ProgressEventDone,
			Artifact: types.BlobInfo{Digest: d, Size: 5, MediaType: "application/vnd.docker.container.image.v1+json"}, Offset: 5},
			progress.Event{Kind: progress.BlobDone, Digest: d, Config: true, Current: 5, Total: 5}, true},
		{types.ProgressProperties{Event: types.ProgressEvent(42), Artifact: layer}, progress.Event{}, false},
	}
	for _, tt := range tests {
		got, ok := fromCopy(tt.in, "ref", now)
		if ok != tt.ok {
			t.Errorf("%v: ok = %v", tt.in.Event, ok)
			continue
		}
		if ok {
			tt.want.Ref, tt.want.Time = "ref", now
		}
		if got.Kind != tt.want.Kind || got.Digest != tt.want.Digest || got.Config != tt.want.Config ||
			got.Current != tt.want.Current || got.Total != tt.want.Total || got.Ref != tt.want.Ref || !got.Time.Equal(tt.want.Time) {
			t.Errorf("%v: got %+v, want %+v", tt.in.Event, got, tt.want)
		}
	}
}

func TestIsConfigMediaType(t *testing.T) {
	for mt, want := range map[string]bool{
		configType: true,
		"application/vnd.docker.container.image.v1+json": true,
		"application/vnd.cncf.helm.config.v1+json":       true,
		layerType: false,
		"application/vnd.docker.image.rootfs.diff.tar.gzip": false,
		"": false,
	} {
		if got := isConfigMediaType(mt); got != want {
			t.Errorf("isConfigMediaType(%q) = %v", mt, got)
		}
	}
}

// TestCopyProgressDrainsWhileSinkBlocks: c/image's sends complete although
// the sink is blocked; after stop and release the events arrive mapped, the
// progress coalesced, the config marked and followed by ConfigWritten.
func TestCopyProgressDrainsWhileSinkBlocks(t *testing.T) {
	const reads = 10000
	sink := newRecorder()
	r := NewReporter(sink)
	ch, stop := r.CopyProgress("example.com/a:latest")

	layer := types.BlobInfo{Digest: digest.FromString("layer"), Size: reads, MediaType: layerType}
	config := types.BlobInfo{Digest: digest.FromString("config"), Size: 7, MediaType: configType}
	skipped := types.BlobInfo{Digest: digest.FromString("skipped"), Size: 3, MediaType: layerType}
	ch <- types.ProgressProperties{Event: types.ProgressEventSkipped, Artifact: skipped}
	ch <- types.ProgressProperties{Event: types.ProgressEventNewArtifact, Artifact: layer}
	for i := uint64(1); i <= reads; i++ {
		ch <- types.ProgressProperties{Event: types.ProgressEventRead, Artifact: layer, Offset: i, OffsetUpdate: 1}
	}
	ch <- types.ProgressProperties{Event: types.ProgressEventDone, Artifact: layer, Offset: reads}
	ch <- types.ProgressProperties{Event: types.ProgressEventNewArtifact, Artifact: config}
	ch <- types.ProgressProperties{Event: types.ProgressEventDone, Artifact: config, Offset: 7}
	stop()
	stop() // idempotent
	r.Emit(progress.Event{Kind: progress.ManifestWritten})

	close(sink.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	type brief struct {
		kind    progress.EventKind
		digest  digest.Digest
		config  bool
		current int64
	}
	want := []brief{
		{progress.BlobSkipped, skipped.Digest, false, 0},
		{progress.BlobStarted, layer.Digest, false, 0},
		{progress.BlobProgress, layer.Digest, false, reads},
		{progress.BlobDone, layer.Digest, false, reads},
		{progress.BlobStarted, config.Digest, true, 0},
		{progress.BlobDone, config.Digest, true, 7},
		{progress.ConfigWritten, config.Digest, true, 7},
		{progress.ManifestWritten, "", false, 0},
	}
	got := sink.events()
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d", len(got), got, len(want))
	}
	for i, e := range got {
		if b := (brief{e.Kind, e.Digest, e.Config, e.Current}); b != want[i] {
			t.Errorf("event %d: got %+v, want %+v", i, b, want[i])
		}
		if e.Kind != progress.ManifestWritten && e.Ref != "example.com/a:latest" {
			t.Errorf("event %d: Ref = %q", i, e.Ref)
		}
	}
}

// TestCopyProgressWithCImage runs a real copy.Image (OCI layout to OCI
// layout) with the adapter, twice: the first copy transfers the layer and
// the config, the second finds the layer and skips it.
func TestCopyProgressWithCImage(t *testing.T) {
	src := writeOCILayout(t, t.TempDir())
	dst := filepath.Join(t.TempDir(), "dst")

	first := copyWithReporter(t, src, dst)
	checkBlobOrderLoose(t, first)
	if n := countKind(first, progress.BlobDone); n != 2 {
		t.Errorf("first copy: %d BlobDone, want 2 (layer, config): %v", n, first)
	}
	if countKind(first, progress.ConfigWritten) != 1 || countKind(first, progress.BlobSkipped) != 0 {
		t.Errorf("first copy: unexpected events %v", first)
	}
	for _, e := range first {
		if e.Kind == progress.BlobDone && e.Current != e.Total {
			t.Errorf("%s done at %d of %d", e.Digest, e.Current, e.Total)
		}
	}

	second := copyWithReporter(t, src, dst)
	if countKind(second, progress.BlobSkipped) != 1 || countKind(second, progress.ConfigWritten) != 1 {
		t.Errorf("second copy: want one skipped layer and the config, got %v", second)
	}
}

// checkBlobOrderLoose checks each blob's events are started, progress...,
// done, with the config's ConfigWritten after its done.
func checkBlobOrderLoose(t *testing.T, got []progress.Event) {
	t.Helper()
	state := map[digest.Digest]progress.EventKind{}
	for _, e := range got {
		prev := state[e.Digest]
		ok := map[progress.EventKind]bool{
			progress.BlobStarted:   prev == 0,
			progress.BlobProgress:  prev == progress.BlobStarted || prev == progress.BlobProgress,
			progress.BlobDone:      prev == progress.BlobStarted || prev == progress.BlobProgress,
			progress.ConfigWritten: prev == progress.BlobDone && e.Config,
		}[e.Kind]
		if !ok {
			t.Errorf("%v of %s after %v", e.Kind, e.Digest, prev)
		}
		state[e.Digest] = e.Kind
	}
}

func copyWithReporter(t *testing.T, src, dst string) []progress.Event {
	t.Helper()
	sink := newRecorder()
	close(sink.gate)
	r := NewReporter(sink)
	srcRef, err := alltransports.ParseImageName("oci:" + src + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	dstRef, err := alltransports.ParseImageName("oci:" + dst + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Destroy() }()

	ch, stop := r.CopyProgress("latest")
	_, err = copy.Image(context.Background(), pc, dstRef, srcRef, &copy.Options{
		Progress:         ch,
		ProgressInterval: time.Nanosecond,
	})
	stop()
	if err != nil {
		t.Fatalf("copy.Image: %v", err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.events()
	for _, e := range got {
		t.Logf("%v %s config=%v %d/%d", e.Kind, e.Digest.Encoded()[:12], e.Config, e.Current, e.Total)
	}
	return got
}

// writeOCILayout writes a one-layer image (a gzipped tar of 256 KiB of
// random bytes) as an OCI layout tagged "latest" in dir.
func writeOCILayout(t *testing.T, dir string) string {
	t.Helper()
	layer := gzipTar(t, "data", 256<<10)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` +
		digest.FromBytes(gunzip(t, layer)).String() + `"]}}`)
	manifest := mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor(configType, config),
		"layers":        []any{descriptor(layerType, layer)},
	})
	index := mustJSON(t, map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType":   "application/vnd.oci.image.manifest.v1+json",
			"digest":      digest.FromBytes(manifest).String(),
			"size":        len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"},
		}},
	})
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{layer, config, manifest} {
		writeFile(t, filepath.Join(blobs, digest.FromBytes(b).Encoded()), b)
	}
	writeFile(t, filepath.Join(dir, "index.json"), index)
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return dir
}

func descriptor(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest.FromBytes(b).String(), "size": len(b)}
}

func gzipTar(t *testing.T, name string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(gz); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
