package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/compression"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"
)

// The fast path's proof of equivalence (issue 23.4): the same images
// pulled through the fast path and through copy.Image
// (Options.DisableFastPath) into two overlay stores give the same image
// records, layer records (but CompressedSize and CompressionType), diffs
// and trees on disk.

// corpusTime is the mtime of the corpus' tar entries.
var corpusTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// layerEntry is one entry of a layer tar: its header and a regular file's
// content.
type layerEntry struct {
	hdr  tar.Header
	body string
}

func tReg(name string, mode int64, body string) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: corpusTime}, body: body}
}

func tDir(name string, mode int64) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: corpusTime}}
}

func tSymlink(name, target string) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: corpusTime}}
}

func tHardlink(name, target string) layerEntry {
	return layerEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: corpusTime}}
}

// buildLayerTar writes entries as one tar (PAX where a header needs it).
func buildLayerTar(t testing.TB, entries ...layerEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatalf("tar body %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// corpusTars are the layers of the corpus image, in stacking order: a
// base with every kind of entry, a layer with whiteouts and an opaque
// directory, an empty layer, and the base again (one blob twice).
func corpusTars(t testing.TB) [][]byte {
	deep := strings.Repeat("d/", 300)
	var deepDirs []layerEntry
	for i := 1; i <= 300; i++ {
		deepDirs = append(deepDirs, tDir(strings.Repeat("d/", i), 0o755))
	}
	long := strings.Repeat("n", 200)
	capXattr := string([]byte{0, 0, 0, 2, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_bind_service, permitted
	capFile := tReg("usr/bin/ping", 0o755, "ping\n")
	capFile.hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": capXattr}
	owned := tReg("home/user/file", 0o600, "mine\n")
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1000
	dev := layerEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: corpusTime}}
	base := []layerEntry{
		tDir("etc/", 0o755),
		tReg("etc/hostname", 0o644, "corpus\n"),
		tReg("etc/gone", 0o644, "removed by the next layer\n"),
		tDir("etc/opaque/", 0o755),
		tReg("etc/opaque/old", 0o644, "hidden by the opaque dir\n"),
		tDir("usr/", 0o755),
		tDir("usr/bin/", 0o755),
		tReg("usr/bin/tool", 0o755, "#!/bin/sh\necho tool\n"),
		tSymlink("usr/bin/alias", "tool"),
		tSymlink("usr/bin/abs", "/etc/hostname"),
		tHardlink("usr/bin/tool2", "usr/bin/tool"),
		tReg("usr/bin/suid", 0o4755, "setuid\n"),
		tReg("usr/bin/sgid", 0o2755, "setgid\n"),
		capFile,
		tDir("dev/", 0o755),
		dev,
		tDir("home/", 0o755),
		tDir("home/user/", 0o700),
		owned,
		tReg(long, 0o644, "a long name\n"),
	}
	base = append(base, deepDirs...)
	base = append(base, tReg(deep+"bottom", 0o644, "300 deep\n"))
	upper := buildLayerTar(t,
		tDir("etc/", 0o755),
		tReg("etc/.wh.gone", 0o644, ""),
		tDir("etc/opaque/", 0o755),
		tReg("etc/opaque/.wh..wh..opq", 0o644, ""),
		tReg("etc/opaque/new", 0o644, "after the opaque marker\n"),
		tReg("etc/hostname", 0o644, "changed\n"),
	)
	baseTar := buildLayerTar(t, base...)
	return [][]byte{baseTar, upper, buildLayerTar(t), baseTar}
}

// layerOf makes a registry layer of a tar: gzip or zstd compressed, or
// uncompressed, with the media type of the manifest kind.
func layerOf(t testing.TB, tarBytes []byte, comp string, oci bool) ggcr.Layer {
	t.Helper()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }
	var l ggcr.Layer
	var err error
	switch comp {
	case "none":
		mt := types.DockerUncompressedLayer
		if oci {
			mt = types.OCIUncompressedLayer
		}
		return static.NewLayer(tarBytes, mt)
	case "zstd":
		l, err = tarball.LayerFromOpener(opener, tarball.WithCompression(v1.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	default:
		mt := types.DockerLayer
		if oci {
			mt = types.OCILayer
		}
		l, err = tarball.LayerFromOpener(opener, tarball.WithMediaType(mt))
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf builds an image of layers (Docker schema2, or OCI).
func imageOf(t testing.TB, oci bool, layers ...ggcr.Layer) ggcr.Image {
	t.Helper()
	base := empty.Image
	if oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = runtime.GOOS, runtime.GOARCH
	cf.Created = ggcr.Time{Time: corpusTime}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// equivCorpus pushes the corpus images to reg and returns their names
// (repo:tag, no host).
func equivCorpus(t testing.TB, reg *enginetest.Registry) []string {
	tars := corpusTars(t)
	var names []string
	push := func(name string, img ggcr.Image) {
		reg.PushImage(t, name, img)
		names = append(names, name)
	}
	push("equiv/kit:v1", enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"a": "1", "b/c": "2"}), enginetest.WithRandomLayer(t, 300<<10)))
	push("equiv/kit-oci:v1", enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLayer(t, enginetest.Files{"x": "y"})))
	var gz []ggcr.Layer
	for _, tb := range tars {
		gz = append(gz, layerOf(t, tb, "gzip", false))
	}
	push("equiv/corpus:gzip", imageOf(t, false, gz...))
	push("equiv/corpus:zstd", imageOf(t, true, layerOf(t, tars[0], "zstd", true), layerOf(t, tars[1], "zstd", true)))
	push("equiv/corpus:tar", imageOf(t, true, layerOf(t, tars[0], "none", true), layerOf(t, tars[2], "none", true)))
	return names
}

func TestFastPathSameAsCopyImage(t *testing.T) {
	if d, reason := enginetest.DefaultDriver(); d != "overlay" {
		t.Skipf("overlay unavailable: %s", reason)
	}
	ctx := context.Background()
	reg := enginetest.NewRegistry(t)
	names := equivCorpus(t, reg)
	fast := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithDriver("overlay"))
	slow := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithDriver("overlay"),
		enginetest.WithEngineOptions(func(o *engine.Options) { o.DisableFastPath = true }))
	for _, name := range names {
		ref := reg.Host + "/" + name
		rf, err := fast.Pull(ctx, ref, policy.Always, nil)
		if err != nil {
			t.Fatalf("fast pull of %s: %v", name, err)
		}
		rs, err := slow.Pull(ctx, ref, policy.Always, nil)
		if err != nil {
			t.Fatalf("copy.Image pull of %s: %v", name, err)
		}
		if rf.Transfer.Path != engine.PathFast || rs.Transfer.Path != engine.PathCopy {
			t.Errorf("%s: paths %q and %q, want %q and %q", name, rf.Transfer.Path, rs.Transfer.Path, engine.PathFast, engine.PathCopy)
		}
		if rf.Images[0].ID != rs.Images[0].ID || rf.Images[0].Digest != rs.Images[0].Digest {
			t.Errorf("%s: results %+v vs %+v", name, rf.Images[0], rs.Images[0])
		}
		compareImages(t, name, fast.Store(), slow.Store(), rf.Images[0].ID)
	}
}

// compareImages asserts that image id is stored alike in a (fast path)
// and b (copy.Image).
func compareImages(t *testing.T, name string, a, b storage.Store, id string) {
	t.Helper()
	ia, err := a.Image(id)
	if err != nil {
		t.Fatalf("%s: fast store: %v", name, err)
	}
	ib, err := b.Image(id)
	if err != nil {
		t.Fatalf("%s: copy store: %v", name, err)
	}
	// Timestamps aside, but a creation date from the config is the same.
	fromConfig := ia.Created.Equal(corpusTime) || ib.Created.Equal(corpusTime)
	if !slices.Equal(ia.Names, ib.Names) || ia.Digest != ib.Digest || ia.Metadata != ib.Metadata ||
		fromConfig && !ia.Created.Equal(ib.Created) || !sameElems(ia.Digests, ib.Digests) {
		t.Errorf("%s: image records differ:\nfast %+v\ncopy %+v", name, *ia, *ib)
	}
	if !slices.Equal(ia.BigDataNames, ib.BigDataNames) || !maps.Equal(ia.BigDataDigests, ib.BigDataDigests) || !maps.Equal(ia.BigDataSizes, ib.BigDataSizes) {
		t.Errorf("%s: big data %v %v vs %v %v", name, ia.BigDataNames, ia.BigDataDigests, ib.BigDataNames, ib.BigDataDigests)
	}
	for _, key := range ia.BigDataNames {
		da, err1 := a.ImageBigData(id, key)
		db, err2 := b.ImageBigData(id, key)
		if err1 != nil || err2 != nil || !bytes.Equal(da, db) {
			t.Errorf("%s: big data %q differs (%v, %v)", name, key, err1, err2)
		}
	}
	la, lb := ia.TopLayer, ib.TopLayer
	if la != lb {
		t.Fatalf("%s: top layers %s vs %s", name, la, lb)
	}
	for la != "" {
		ra, err1 := a.Layer(la)
		rb, err2 := b.Layer(la)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: layer %s: %v, %v", name, la, err1, err2)
		}
		compareLayerRecords(t, name, *ra, *rb)
		compareDiffs(t, name, a, b, la)
		compareTrees(t, name, filepath.Join(a.GraphRoot(), "overlay", la, "diff"), filepath.Join(b.GraphRoot(), "overlay", la, "diff"))
		la = ra.Parent
	}
}

func sameElems[T comparable](a, b []T) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x T) bool { return !slices.Contains(b, x) })
}

// allowedLayerDiffs are the layer record fields the fast path leaves
// empty where copy.Image fills them (README "Fast path").
var allowedLayerDiffs = []string{"CompressedSize", "CompressionType"}

// compareLayerRecords asserts that the records differ in no field but
// the allowed ones (Created aside), and that the fast path left those two
// empty.
func compareLayerRecords(t *testing.T, name string, fast, slow storage.Layer) {
	t.Helper()
	vf, vs := reflect.ValueOf(fast), reflect.ValueOf(slow)
	for i := range vf.NumField() {
		f := vf.Type().Field(i)
		if !f.IsExported() || f.Name == "Created" || slices.Contains(allowedLayerDiffs, f.Name) {
			continue
		}
		if a, b := vf.Field(i).Interface(), vs.Field(i).Interface(); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: layer %.12s: %s differs: fast %v, copy %v", name, fast.ID, f.Name, a, b)
		}
	}
	if fast.CompressedSize != slow.CompressedSize && fast.CompressedSize != 0 || fast.CompressionType != slow.CompressionType && fast.CompressionType != archive.Uncompressed {
		t.Errorf("%s: layer %.12s: fast path CompressedSize %d, CompressionType %v; copy.Image's %d, %v: want equal or empty",
			name, fast.ID, fast.CompressedSize, fast.CompressionType, slow.CompressedSize, slow.CompressionType)
	}
}

// compareDiffs asserts store.Diff gives the same bytes in both stores.
func compareDiffs(t *testing.T, name string, a, b storage.Store, id string) {
	t.Helper()
	ha, err1 := diffHash(a, id)
	hb, err2 := diffHash(b, id)
	if err1 != nil || err2 != nil || ha != hb {
		t.Errorf("%s: layer %.12s: Diff %s (%v) vs %s (%v)", name, id, ha, err1, hb, err2)
	}
}

func diffHash(s storage.Store, id string) (string, error) {
	unc := archive.Uncompressed
	rc, err := s.Diff("", id, &storage.DiffOptions{Compression: &unc})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// compareTrees asserts two layer directories hold the same tree: names,
// types, modes, owners, sizes, contents, link targets, device numbers,
// xattrs (whiteouts and opaque markers included), mtimes of
// non-directories, and which names share an inode (hard links).
func compareTrees(t *testing.T, name, a, b string) {
	t.Helper()
	ta, err1 := describeTree(a)
	tb, err2 := describeTree(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: reading trees: %v, %v", name, err1, err2)
	}
	if len(ta) == 0 && len(tb) == 0 {
		return
	}
	keys := slices.Sorted(maps.Keys(ta))
	for k := range tb {
		if _, ok := ta[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if ta[k] != tb[k] {
			t.Errorf("%s: %s: %q\n  fast: %s\n  copy: %s", name, filepath.Base(a[:len(a)-5]), k, ta[k], tb[k])
		}
	}
}

// describeTree maps each path under root to a line describing it.
func describeTree(root string) (map[string]string, error) {
	out := map[string]string{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += fmt.Sprintf(" size=%d sha=%x mtime=%d", st.Size, sum[:8], st.Mtim.Sec)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case syscall.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target + fmt.Sprintf(" mtime=%d", st.Mtim.Sec)
		case syscall.S_IFCHR, syscall.S_IFBLK:
			line += fmt.Sprintf(" dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		line += " xattrs=" + xattrs(p)
		out[rel] = line
		return nil
	})
	for _, names := range inodes {
		sort.Strings(names)
		for _, n := range names {
			out[n] += " links=" + strings.Join(names, ",")
		}
	}
	return out, err
}

// xattrs lists path's extended attributes and values.
func xattrs(path string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil || n == 0 {
		return ""
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var parts []string
	for _, x := range names {
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(path, x, val)
		if err != nil {
			parts = append(parts, x+"=?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%x", x, val[:m]))
	}
	return strings.Join(parts, ";")
}
