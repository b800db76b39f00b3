package stagedlayer_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nodeInfo is what the comparison sees of one file of a layer's tree.
type nodeInfo struct {
	Mode     uint32 // st_mode: type and all permission bits
	UID, GID uint32
	Size     int64
	Content  string // sha256 of a regular file
	Link     string // symlink target
	Rdev     uint64
	Nlink    uint64
	Inode    string // the first path sharing this inode (hardlinks)
	Mtime    string // "" where the time is the untar's own (see snapshot)
	Xattrs   string
}

// snapshot walks the tree at root without following symlinks. The mtime
// is left out for the root, for whiteout devices and for directories the
// tar does not name (untimed): both untars leave the time of writing there.
func snapshot(t testing.TB, root string, untimed func(rel string, st *unixStat) bool) map[string]nodeInfo {
	t.Helper()
	tree := map[string]nodeInfo{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		n := nodeInfo{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Rdev: st.Rdev, Nlink: uint64(st.Nlink), Xattrs: xattrsOf(t, path)}
		if first, ok := inodes[st.Ino]; ok {
			n.Inode = first
		} else {
			inodes[st.Ino] = rel
			n.Inode = rel
		}
		if !untimed(rel, &st) {
			n.Mtime = fmt.Sprintf("%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n.Size = st.Size
			n.Content = fmt.Sprintf("%x", sha256.Sum256(data))
		case unix.S_IFLNK:
			n.Link, err = os.Readlink(path)
			if err != nil {
				return err
			}
		}
		tree[rel] = n
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return tree
}

// xattrsOf lists a file's extended attributes as "name=value" lines.
func xattrsOf(t testing.TB, path string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		t.Fatalf("llistxattr %s: %v", path, err)
	}
	var out []string
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(path, name, val)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", path, name, err)
		}
		out = append(out, fmt.Sprintf("%s=%q", name, val[:m]))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// compareTrees reports every path whose nodeInfo differs, or is in one
// tree only.
func compareTrees(t testing.TB, what string, want, got map[string]nodeInfo) {
	t.Helper()
	diffs := 0
	for _, p := range slices.Sorted(mapsKeys(want, got)) {
		w, inW := want[p]
		g, inG := got[p]
		switch {
		case !inW:
			t.Errorf("%s: %s only in the staged tree: %+v", what, p, g)
		case !inG:
			t.Errorf("%s: %s missing from the staged tree (PutLayer: %+v)", what, p, w)
		case w != g:
			t.Errorf("%s: %s differs\n PutLayer: %+v\n staged:   %+v", what, p, w, g)
		default:
			continue
		}
		if diffs++; diffs > 400 {
			t.Fatalf("%s: more than 20 differences", what)
		}
	}
}

func mapsKeys(ms ...map[string]nodeInfo) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

// unixStat is what snapshot's untimed predicate is given.
type unixStat = unix.Stat_t
