package stagedlayer_test

import (
	"archive/tar"
	"bytes"
	"testing"
	"time"
)

// A corpus of layer tars covering what the overlay driver's ApplyDiff
// writes: the fast path's equivalence tests apply each one through both
// routes and compare the results.

// entry is one tar entry: its header and, for a regular file, its content.
type entry struct {
	hdr  tar.Header
	body []byte
}

// corpusTime is the mtime of the corpus' entries (whole seconds, as tar's
// USTAR format stores them).
var corpusTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// file is a regular file entry.
func file(name string, mode int64, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: corpusTime}, body: []byte(body)}
}

// dir is a directory entry.
func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: corpusTime}}
}

// symlink is a symbolic link entry.
func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: corpusTime}}
}

// hardlink is a hard link entry.
func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: corpusTime}}
}

// buildTar writes entries as one tar.
func buildTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
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

// corpusLayer is one named layer of the corpus.
type corpusLayer struct {
	name string
	tar  []byte
}

// corpus returns the corpus' layers, in the order they stack.
func corpus(t testing.TB) []corpusLayer {
	return []corpusLayer{
		{"basic", buildTar(t,
			dir("etc/", 0o755),
			file("etc/hostname", 0o644, "corpus\n"),
			dir("usr/", 0o755),
			dir("usr/bin/", 0o755),
			file("usr/bin/tool", 0o755, "#!/bin/sh\necho tool\n"),
			symlink("usr/bin/alias", "tool"),
			hardlink("usr/bin/tool2", "usr/bin/tool"),
		)},
	}
}
