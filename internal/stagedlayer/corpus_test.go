package stagedlayer_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The corpus: layer tars covering what the overlay driver's ApplyDiff
// writes. The equivalence tests apply each through PutLayer and through
// the staged route and compare the results; the fast path's pull tests
// can push the same tars (see corpusLayers). Escape attempts live in
// escape_test.go.

// entry is one tar entry: its header and, for a regular file, its content
// (raw, when set, replaces both with bytes written as they are).
type entry struct {
	hdr  tar.Header
	body []byte
	raw  []byte
}

// corpusTime is the corpus' usual mtime (whole seconds, as USTAR keeps).
var corpusTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func file(name string, mode int64, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: corpusTime}, body: []byte(body)}
}

func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: corpusTime}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: corpusTime}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: corpusTime}}
}

func node(name string, typ byte, mode, major, minor int64) entry {
	return entry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: mode, Devmajor: major, Devminor: minor, ModTime: corpusTime}}
}

// with returns e after f changed its header.
func (e entry) with(f func(h *tar.Header)) entry {
	f(&e.hdr)
	return e
}

// owned sets the entry's owner.
func (e entry) owned(uid, gid int) entry {
	return e.with(func(h *tar.Header) { h.Uid, h.Gid = uid, gid })
}

// xattr adds an extended attribute record.
func (e entry) xattr(name, value string) entry {
	return e.with(func(h *tar.Header) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+name] = value
	})
}

// buildTar writes entries as one tar.
func buildTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if e.raw != nil {
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			buf.Write(e.raw)
			continue
		}
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatalf("tar body %s: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawBlock is one USTAR header block, for what archive/tar will not
// write (PAX sparse records).
func rawBlock(name string, typ byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], fmt.Sprintf("%011o\x00", corpusTime.Unix()))
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padBlock pads data to whole 512-byte blocks.
func padBlock(data []byte) []byte {
	if r := len(data) % 512; r != 0 {
		data = append(data, make([]byte, 512-r)...)
	}
	return data
}

// sparseFile is a PAX 1.0 sparse file of realSize bytes holding "head" at
// 0 and "tail" at realSize-4, zeros between.
func sparseFile(name string, realSize int64) entry {
	pax := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(realSize)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		pax += fmt.Sprint(n) + rec
	}
	data := padBlock([]byte(fmt.Sprintf("2\n0\n4\n%d\n4\n", realSize-4)))
	data = append(data, "headtail"...)
	raw := append(rawBlock("PaxHeaders/"+name, tar.TypeXHeader, int64(len(pax))), padBlock([]byte(pax))...)
	raw = append(raw, rawBlock("GNUSparseFile.0/"+name, tar.TypeReg, int64(len(data)))...)
	return entry{raw: append(raw, padBlock(data)...)}
}

// capNetBindService is a security.capability value (VFS_CAP_REVISION_2,
// effective) granting CAP_NET_BIND_SERVICE.
const capNetBindService = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// corpusLayer is one named layer of the corpus.
type corpusLayer struct {
	name string
	tar  []byte
}

// corpusLayers returns the corpus, in the order its layers stack.
func corpusLayers(t testing.TB) []corpusLayer {
	deep := strings.Repeat("d/", 300)
	long := strings.Repeat("long-name-", 12) // 120 characters
	return []corpusLayer{
		{"files", buildTar(t,
			dir("./", 0o755),
			dir("etc/", 0o755),
			file("etc/hostname", 0o644, "corpus\n").xattr("user.comment", "hello"),
			dir("usr/", 0o755).xattr("user.dir", "x"),
			dir("usr/bin/", 0o755),
			file("usr/bin/tool", 0o755, "#!/bin/sh\necho tool\n"),
			file("usr/bin/suid", 0o4755, "suid").owned(0, 0),
			file("usr/bin/sgid", 0o2711, "sgid").owned(0, 42),
			file("usr/bin/ping", 0o755, "ping").xattr("security.capability", capNetBindService),
			dir("tmp/", 0o1777),
			dir("srv/", 0o2775).owned(1000, 1000),
			file("srv/data", 0o640, "owned").owned(1000, 1001),
			symlink("usr/bin/alias", "tool"),
			symlink("usr/bin/abs", "/usr/bin/tool"),
			symlink("usr/bin/dangling", "../nowhere/at/all"),
			symlink("usr/bin/owned-link", "tool").owned(1000, 1000),
			hardlink("usr/bin/tool2", "usr/bin/tool"),
			// A hardlink entry's own owner, mode and time land on the shared inode.
			hardlink("usr/bin/tool3", "usr/bin/tool").with(func(h *tar.Header) {
				h.Mode, h.Uid, h.Gid, h.ModTime = 0o700, 7, 8, corpusTime.Add(time.Hour)
			}),
			hardlink("usr/bin/alias-hard", "usr/bin/alias"),
			node("dev/null", tar.TypeChar, 0o666, 1, 3),
			node("dev/loop0", tar.TypeBlock, 0o660, 7, 0).owned(0, 6),
			node("run/fifo", tar.TypeFifo, 0o600, 0, 0),
			file("pax/"+long+"/"+long, 0o644, "pax long name").with(func(h *tar.Header) { h.Format = tar.FormatPAX }),
			file("gnu/"+long+"/"+long, 0o644, "gnu long name").with(func(h *tar.Header) { h.Format = tar.FormatGNU }),
			symlink("gnu/long-link", long+"/"+long+"/"+long).with(func(h *tar.Header) { h.Format = tar.FormatGNU }),
			file(deep+"bottom", 0o644, "300 deep"),
			file("implicit/parents/file", 0o644, "no dir entries above me"),
			file("times/zero", 0o644, "zero mtime").with(func(h *tar.Header) { h.ModTime = time.Time{} }),
			file("times/pre-epoch", 0o644, "1960").with(func(h *tar.Header) { h.ModTime = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }),
			file("times/nanos", 0o644, "pax nanoseconds").with(func(h *tar.Header) {
				h.Format, h.ModTime, h.AccessTime = tar.FormatPAX, corpusTime.Add(123456789), corpusTime.Add(time.Hour)
			}),
			file("empty", 0o644, ""),
			// A relative symlink that stays inside is followed, as in the chroot.
			dir("real/", 0o755),
			symlink("via", "real"),
			file("via/through", 0o644, "written through an in-root symlink"),
			// Directory times are set after their contents.
			dir("late/", 0o750).with(func(h *tar.Header) { h.ModTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) }),
			file("late/child", 0o644, "written after late/'s header"),
		)},
		{"whiteouts", buildTar(t,
			file("etc/.wh.hostname", 0o644, ""),
			dir("usr/", 0o755),
			file("usr/.wh..wh..opq", 0o644, ""),
			file("usr/new", 0o644, "after opaque"),
			file("gone/.wh.x", 0o644, "").owned(1000, 1000),
			// rm -rf /srv/sub: some tools write both whiteouts.
			file(".wh.srv", 0o644, ""),
			file("srv/.wh.data", 0o644, ""),
			dir("opaque/", 0o711),
			file("opaque/.wh..wh..opq", 0o644, ""),
		)},
		{"sparse", buildTar(t,
			sparseFile("sparse", 1<<20),
			file("after-sparse", 0o644, "still in step"),
		)},
		{"empty", buildTar(t)},
		{"owners", buildTar(t,
			dir("home/", 0o755),
			dir("home/user/", 0o700).owned(1000, 1000),
			file("home/user/file", 0o600, "mine").owned(1000, 1000),
			file("home/user/nobody", 0o644, "nobody's").owned(65534, 65534),
			symlink("home/user/link", "file").owned(1000, 1000),
		)},
	}
}
