package stagedlayer_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pullengine/pullengine/internal/stagedlayer"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// TestStagedMatchesPutLayer applies the corpus as one chain of layers
// through PutLayer (the overlay driver's own chrooted ApplyDiff) into one
// store and through PrepareStagedLayer(NewDiffer) + ApplyStagedLayer into
// another, then compares every layer's tree on disk, its store.Diff, and
// its layer record (CompressedSize and CompressionType aside, which
// ApplyStagedLayer leaves empty).
func TestStagedMatchesPutLayer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback bool
		idMap    []idtools.IDMap
	}{
		{name: "openat2"},
		{name: "os.Root fallback", fallback: true},
		{name: "uid map", idMap: []idtools.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fallback {
				defer stagedlayer.UseRootFallback()()
			}
			if tc.idMap != nil {
				// Where the kernel has idmapped mounts, overlay stores
				// layers unmapped and maps at mount time; without, it maps
				// owners on disk, which is what this case is about.
				t.Setenv("_CONTAINERS_OVERLAY_DISABLE_IDMAP", "yes")
			}
			put, staged := newOverlayStoreMapped(t, tc.idMap), newOverlayStoreMapped(t, tc.idMap)
			parent := ""
			for i, cl := range corpusLayers(t) {
				b := corpusBlob(t, i, cl.tar)
				id := fmt.Sprintf("%02d-%s", i, cl.name)
				want := putLayer(t, put, id, parent, b)
				got, err := stageLayerMapped(staged, id, parent, b.layer(), tc.idMap)
				if err != nil {
					t.Fatalf("layer %s: %v", id, err)
				}
				compareRecords(t, id, want, got)
				untimed := untimedIn(t, cl.tar)
				gotTree := snapshot(t, diffDir(staged, id), untimed)
				compareTrees(t, id, snapshot(t, diffDir(put, id), untimed), gotTree)
				checkCorpusFeatures(t, cl.name, gotTree)
				wantDiff, wantErr := diffOf(put, id)
				gotDiff, gotErr := diffOf(staged, id)
				if !bytes.Equal(wantDiff, gotDiff) || (wantErr == nil) != (gotErr == nil) {
					t.Errorf("layer %s: store.Diff differs: PutLayer %d bytes (%v), staged %d bytes (%v)", id, len(wantDiff), wantErr, len(gotDiff), gotErr)
				}
				parent = id
			}
		})
	}
}

// checkCorpusFeatures spot-checks that the corpus' special cases reached
// the disk at all, so that the comparison cannot pass on two trees that
// both lost them.
func checkCorpusFeatures(t testing.TB, layer string, tree map[string]nodeInfo) {
	t.Helper()
	checks := map[string]map[string]func(nodeInfo) bool{
		"files": {
			"usr/bin/ping":  func(n nodeInfo) bool { return strings.Contains(n.Xattrs, "security.capability=") },
			"etc/hostname":  func(n nodeInfo) bool { return strings.Contains(n.Xattrs, `user.comment="hello"`) },
			"usr/bin/suid":  func(n nodeInfo) bool { return n.Mode&unix.S_ISUID != 0 },
			"usr/bin/sgid":  func(n nodeInfo) bool { return n.Mode&unix.S_ISGID != 0 },
			"tmp":           func(n nodeInfo) bool { return n.Mode&unix.S_ISVTX != 0 },
			"dev/null":      func(n nodeInfo) bool { return n.Mode&unix.S_IFMT == unix.S_IFCHR && n.Rdev == unix.Mkdev(1, 3) },
			"dev/loop0":     func(n nodeInfo) bool { return n.Mode&unix.S_IFMT == unix.S_IFBLK },
			"run/fifo":      func(n nodeInfo) bool { return n.Mode&unix.S_IFMT == unix.S_IFIFO },
			"usr/bin/tool3": func(n nodeInfo) bool { return n.Inode == "usr/bin/tool" && n.Nlink == 3 && n.Mode&0o777 == 0o700 },
			"srv/data":      func(n nodeInfo) bool { return n.Content != "" && n.Mtime != "" },
			"real/through":  func(n nodeInfo) bool { return n.Size > 0 }, // written as via/through

		},
		"whiteouts": {
			"etc/hostname": func(n nodeInfo) bool { return n.Mode&unix.S_IFMT == unix.S_IFCHR && n.Rdev == 0 },
			"usr":          func(n nodeInfo) bool { return strings.Contains(n.Xattrs, `overlay.opaque="y"`) },
			"srv":          func(n nodeInfo) bool { return n.Mode&unix.S_IFMT == unix.S_IFCHR },
		},
		"sparse": {"sparse": func(n nodeInfo) bool { return n.Size == 1<<20 }},
	}
	for path, ok := range checks[layer] {
		n, found := tree[path]
		if !found || !ok(n) {
			t.Errorf("%s: %s is not what the corpus makes it: %+v (present: %v)", layer, path, n, found)
		}
	}
}

// corpusBlob compresses layer i of the corpus, the media types taking
// turns so that each decompressor is covered.
func corpusBlob(t testing.TB, i int, tarData []byte) blob {
	switch i % 3 {
	case 1:
		return zstdBlob(t, tarData)
	case 2:
		return blob{data: tarData, mediaType: imgspecv1.MediaTypeImageLayer, digest: digest.FromBytes(tarData), diffID: digest.FromBytes(tarData)}
	}
	return gzipBlob(t, tarData)
}

// zstdBlob compresses a tar as a zstd layer.
func zstdBlob(t testing.TB, tarData []byte) blob {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarData); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return blob{data: buf.Bytes(), mediaType: imgspecv1.MediaTypeImageLayerZstd,
		digest: digest.FromBytes(buf.Bytes()), diffID: digest.FromBytes(tarData)}
}

// compareRecords compares two layer records field by field.
func compareRecords(t testing.TB, id string, want, got *storage.Layer) {
	t.Helper()
	vw, vg := reflect.ValueOf(*want), reflect.ValueOf(*got)
	for f := range vw.NumField() {
		if !vw.Type().Field(f).IsExported() {
			continue
		}
		switch name := vw.Type().Field(f).Name; name {
		case "Created", "CompressedSize", "CompressionType":
		default:
			if w, g := vw.Field(f).Interface(), vg.Field(f).Interface(); !reflect.DeepEqual(w, g) {
				t.Errorf("layer %s record: %s is %v, PutLayer's %v", id, name, g, w)
			}
		}
	}
}

// diffDir is the overlay directory holding layer id's files.
func diffDir(s storage.Store, id string) string {
	return filepath.Join(s.GraphRoot(), "overlay", id, "diff")
}

// diffOf is store.Diff of layer id, uncompressed.
func diffOf(s storage.Store, id string) ([]byte, error) {
	rc, err := s.Diff("", id, &storage.DiffOptions{Compression: ptr(archive.Uncompressed)})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func ptr[T any](v T) *T { return &v }

// untimedIn says which paths of a tree from tarData have the untar's own
// mtime: the root, whiteout devices and directories the tar has no entry
// for.
func untimedIn(t testing.TB, tarData []byte) func(string, *unix.Stat_t) bool {
	t.Helper()
	named := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(tarData))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			named[filepath.Clean(h.Name)] = true
		}
	}
	return func(rel string, st *unix.Stat_t) bool {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			return st.Rdev == 0
		case unix.S_IFDIR:
			return rel == "." || !named[rel]
		}
		return false
	}
}
