package stagedlayer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// The in-process untar.
//
// It writes what storage's archive.Unpack writes when the overlay driver
// runs it chrooted into the layer directory (drivers/overlay applyDiff →
// chrootarchive.UntarUncompressed), step for step: missing parents made
// 0777 (less the umask) and owned by the mapped root; an existing entry
// replaced unless both are directories; owners mapped to the host, then
// lchown, chmod, times, xattrs in that order (chown clears setuid bits and
// capabilities); hardlinks taking the link entry's owner, mode and times;
// whiteouts as 0:0 character devices and opaque markers as the overlay
// opaque xattr; directory times set last. What differs is how names are
// resolved (see resolve.go).

// unpacker is one untar into a layer root.
type unpacker struct {
	rs      resolver
	opts    *archive.TarOptions
	idMaps  *idtools.IDMappings
	rootIDs idtools.IDPair
	doChown bool
	// overlayWhiteouts converts AUFS whiteout entries to overlay's form.
	overlayWhiteouts bool
	dirs             []*tar.Header
	rootHdr          *tar.Header
	ids              idSet
	buf              []byte
}

// unpack writes the tar r into dest and returns the owners its entries
// name.
func unpack(r io.Reader, dest string, options *archive.TarOptions) (idSet, error) {
	rs, err := newResolver(dest)
	if err != nil {
		return idSet{}, err
	}
	defer rs.close()
	idMaps := idtools.NewIDMappingsFromMaps(options.UIDMaps, options.GIDMaps)
	u := &unpacker{
		rs: rs, opts: options, idMaps: idMaps, rootIDs: idMaps.RootPair(),
		doChown:          !options.NoLchown && options.ForceMask == nil,
		overlayWhiteouts: options.WhiteoutFormat == archive.OverlayWhiteoutFormat,
		ids:              newIDSet(),
		buf:              make([]byte, 1<<20),
	}
	if err := u.ownRoot(); err != nil {
		return u.ids, err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.ids, err
		}
		u.ids.add(hdr.Name, hdr.Uid, hdr.Gid)
		if err := u.entry(hdr, tr); err != nil {
			return u.ids, fmt.Errorf("%q: %w", hdr.Name, err)
		}
	}
	return u.ids, u.finish()
}

// ownRoot gives the root to the mapped root user, as the driver's Create
// does for a layer PutLayer fills; the staging directory it is made in
// belongs to this process.
func (u *unpacker) ownRoot() error {
	if u.idMaps.Empty() {
		return nil
	}
	root, err := u.rs.openDir(".")
	if err != nil {
		return err
	}
	defer root.Close()
	return u.safeFchown(int(root.Fd()), ".", u.rootIDs.UID, u.rootIDs.GID)
}

// entry writes one tar entry.
func (u *unpacker) entry(hdr *tar.Header, body io.Reader) error {
	hdr.Name = filepath.Clean(hdr.Name)
	for _, exclude := range u.opts.ExcludePatterns {
		if strings.HasPrefix(hdr.Name, exclude) {
			return nil
		}
	}
	if hdr.Name == "." {
		u.rootHdr = hdr // the root keeps the driver's mode and owner
		return nil
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	parent, base := filepath.Split(hdr.Name)
	if base == ".." {
		return ErrUnsafePath
	}
	dir, err := u.parentDir(filepath.Clean(parent))
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) && u.isFileWhiteout(base) {
			// "rm -rf /foo/bar" gives /.wh.foo and /foo/.wh.bar; the
			// first made foo a device, so the second has nothing to hide.
			return nil
		}
		return err
	}
	defer dir.Close()
	at := entryAt{dir: dir, name: base}
	if err := u.clearFor(at, hdr); err != nil {
		return err
	}
	if err := u.remapIDs(hdr); err != nil {
		return err
	}
	if u.overlayWhiteouts {
		if done, err := u.whiteout(at, hdr); done || err != nil {
			return err
		}
	}
	if err := u.create(at, hdr, body); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		u.dirs = append(u.dirs, hdr)
	}
	return nil
}

// entryAt names an entry by its directory and last component, which is
// never followed.
type entryAt struct {
	dir  *os.File
	name string
}

func (e entryAt) fd() int { return int(e.dir.Fd()) }

// procPath is a path for e through the directory's descriptor, for calls
// that have no *at form (lsetxattr): /proc's magic link jumps to the
// directory itself, and the last component is not followed.
func (e entryAt) procPath() string {
	return "/proc/self/fd/" + strconv.Itoa(e.fd()) + "/" + e.name
}

// lstat is fstatat without following the last component.
func (e entryAt) lstat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(e.fd(), e.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// parentDir opens the directory rel, making the missing ones as the
// chrooted untar does (MkdirAll 0777, new ones owned by the mapped root).
func (u *unpacker) parentDir(rel string) (*os.File, error) {
	f, err := u.rs.openDir(rel)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return f, err
	}
	cur, err := u.rs.openDir(".")
	if err != nil {
		return nil, err
	}
	walked := "."
	for comp := range strings.SplitSeq(rel, "/") {
		walked = filepath.Join(walked, comp)
		next, err := u.rs.openDir(walked)
		if errors.Is(err, unix.ENOENT) {
			err = u.mkdirParent(entryAt{dir: cur, name: comp})
			if err == nil {
				next, err = u.rs.openDir(walked)
			}
		}
		cur.Close()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// mkdirParent makes one missing parent directory.
func (u *unpacker) mkdirParent(at entryAt) error {
	if err := unix.Mkdirat(at.fd(), at.name, 0o777); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdirat", Path: at.name, Err: err}
	}
	return u.safeChown(at, u.rootIDs.UID, u.rootIDs.GID)
}

// clearFor removes what is at the entry's place unless both it and the
// entry are directories.
func (u *unpacker) clearFor(at entryAt, hdr *tar.Header) error {
	st, err := at.lstat()
	if err != nil {
		return nil //nolint:nilerr // nothing there (or the create below reports the cause)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if u.opts.NoOverwriteDirNonDir && isDir != (hdr.Typeflag == tar.TypeDir) {
		return fmt.Errorf("cannot overwrite a directory with a non-directory or the reverse")
	}
	if isDir && hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return removeAllAt(at)
}

// remapIDs turns the entry's owner into the host's, as archive.Unpack
// does with ChownOpts or the ID maps.
func (u *unpacker) remapIDs(hdr *tar.Header) error {
	ids := idtools.IDPair{UID: hdr.Uid, GID: hdr.Gid}
	if u.opts.ChownOpts != nil {
		ids = *u.opts.ChownOpts
	}
	if !u.idMaps.Empty() {
		var err error
		if ids, err = u.idMaps.ToHost(ids); err != nil {
			return err
		}
	}
	hdr.Uid, hdr.Gid = ids.UID, ids.GID
	return nil
}

// isFileWhiteout reports whether an entry called base is an overlay
// file whiteout (".wh.x", not the opaque marker).
func (u *unpacker) isFileWhiteout(base string) bool {
	return u.overlayWhiteouts && base != archive.WhiteoutOpaqueDir && strings.HasPrefix(base, archive.WhiteoutPrefix)
}

// whiteout writes an AUFS whiteout entry in overlay's form; done says the
// entry was one.
func (u *unpacker) whiteout(at entryAt, hdr *tar.Header) (done bool, err error) {
	if at.name == archive.WhiteoutOpaqueDir {
		if err := unix.Fsetxattr(at.fd(), archive.GetOverlayXattrName("opaque"), []byte{'y'}, 0); err != nil {
			return true, &os.PathError{Op: "fsetxattr", Path: ".", Err: err}
		}
		return true, nil
	}
	hidden, ok := strings.CutPrefix(at.name, archive.WhiteoutPrefix)
	if !ok {
		return false, nil
	}
	node := entryAt{dir: at.dir, name: hidden}
	if hidden == "" || hidden == "." || hidden == ".." {
		return true, ErrUnsafePath
	}
	if err := unix.Mknodat(node.fd(), node.name, unix.S_IFCHR, 0); err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return true, nil
		}
		return true, &os.PathError{Op: "mknodat", Path: node.name, Err: err}
	}
	return true, u.safeChown(node, hdr.Uid, hdr.Gid)
}

// safeChown is idtools.SafeLchown (or SafeChown for a directory) at at:
// nothing when the owner is already right. A failure counts unless
// IgnoreChownErrors.
func (u *unpacker) safeChown(at entryAt, uid, gid int) error {
	st, err := at.lstat()
	if err == nil && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	if err := unix.Fchownat(at.fd(), at.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if u.opts.IgnoreChownErrors {
			return nil
		}
		return &os.PathError{Op: "lchown", Path: at.name, Err: err}
	}
	return nil
}

// safeFchown is safeChown through an open file descriptor (name is for
// the error).
func (u *unpacker) safeFchown(fd int, name string, uid, gid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	if err := unix.Fchown(fd, uid, gid); err != nil && !u.opts.IgnoreChownErrors {
		return &os.PathError{Op: "fchown", Path: name, Err: err}
	}
	return nil
}

// create writes the entry itself and its metadata.
func (u *unpacker) create(at entryAt, hdr *tar.Header, body io.Reader) error {
	typ := hdr.Typeflag
	mode := uint32(hdr.Mode & 0o7777) //nolint:gosec // masked
	if u.opts.ForceMask != nil {
		mode = uint32(unixMode(*u.opts.ForceMask))
		if typ != tar.TypeDir && typ != tar.TypeSymlink && typ != tar.TypeLink {
			typ = tar.TypeReg
		}
	}
	switch typ {
	case tar.TypeDir:
		return u.createDir(at, hdr, mode)
	case tar.TypeReg:
		return u.createFile(at, hdr, mode, body)
	case tar.TypeBlock, tar.TypeChar, tar.TypeFifo:
		return u.createNode(at, hdr, mode)
	case tar.TypeLink:
		return u.createLink(at, hdr, mode)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, at.fd(), at.name); err != nil {
			return &os.PathError{Op: "symlinkat", Path: at.name, Err: err}
		}
		return u.finishAt(at, hdr, nil, false)
	default:
		return fmt.Errorf("unhandled tar header type %d", hdr.Typeflag)
	}
}

// createDir makes (or merges into) a directory.
func (u *unpacker) createDir(at entryAt, hdr *tar.Header, mode uint32) error {
	if err := unix.Mkdirat(at.fd(), at.name, mode); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdirat", Path: at.name, Err: err}
	}
	fd, err := unix.Openat(at.fd(), at.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: at.name, Err: err}
	}
	f := os.NewFile(uintptr(fd), at.name)
	defer f.Close()
	return u.finishFd(at, f, hdr, mode)
}

// createFile writes a regular file.
func (u *unpacker) createFile(at entryAt, hdr *tar.Header, mode uint32, body io.Reader) error {
	fd, err := unix.Openat(at.fd(), at.name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return &os.PathError{Op: "openat", Path: at.name, Err: err}
	}
	f := os.NewFile(uintptr(fd), at.name)
	// Hide ReadFrom: the tar reader is no file, and CopyBuffer would
	// otherwise fall back to a fresh buffer per file.
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, body, u.buf)
	if err == nil {
		err = u.finishFd(at, f, hdr, mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// createNode makes a device node or a FIFO.
func (u *unpacker) createNode(at entryAt, hdr *tar.Header, mode uint32) error {
	if hdr.Typeflag != tar.TypeFifo && u.opts.InUserNS {
		return nil // a user namespace cannot make devices; storage skips them too
	}
	kind := map[byte]uint32{tar.TypeBlock: unix.S_IFBLK, tar.TypeChar: unix.S_IFCHR, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))               //nolint:gosec // as storage's system.Mkdev
	if err := unix.Mknodat(at.fd(), at.name, mode|kind, int(dev)); err != nil { //nolint:gosec
		return &os.PathError{Op: "mknodat", Path: at.name, Err: err}
	}
	return u.finishAt(at, hdr, &mode, true)
}

// createLink makes a hardlink to an earlier entry, resolved inside the
// root like any name. The link entry's owner, mode and times then apply
// to the shared inode unless it is a symlink, as in the chrooted untar.
func (u *unpacker) createLink(at entryAt, hdr *tar.Header, mode uint32) error {
	target := filepath.Clean(hdr.Linkname)
	tparent, tbase := filepath.Split(target)
	if tbase == ".." || tbase == "." {
		return fmt.Errorf("hardlink to %q: %w", hdr.Linkname, ErrUnsafePath)
	}
	tdir, err := u.rs.openDir(filepath.Clean(tparent))
	if err != nil {
		return fmt.Errorf("hardlink to %q: %w", hdr.Linkname, err)
	}
	defer tdir.Close()
	if err := unix.Linkat(int(tdir.Fd()), tbase, at.fd(), at.name, 0); err != nil {
		return &os.PathError{Op: "linkat", Path: at.name, Err: err}
	}
	st, err := at.lstat()
	if err != nil {
		return err
	}
	isSymlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if isSymlink {
		return u.finishAt(at, hdr, nil, false)
	}
	return u.finishAt(at, hdr, &mode, true)
}

// finishFd sets owner, mode, times and xattrs through an open file.
func (u *unpacker) finishFd(at entryAt, f *os.File, hdr *tar.Header, mode uint32) error {
	fd := int(f.Fd())
	if u.doChown {
		if err := u.safeFchown(fd, at.name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return &os.PathError{Op: "fchmod", Path: at.name, Err: err}
	}
	if err := futimens(fd, fileTimes(hdr)); err != nil {
		return &os.PathError{Op: "futimens", Path: at.name, Err: err}
	}
	return u.xattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) })
}

// finishAt sets owner, mode (when given) and times and xattrs on an entry
// that has no open file: symlinks, nodes, hardlinks. clampTimes picks
// Chtimes' handling of times over LUtimesNano's, as storage does for
// anything but a symlink.
func (u *unpacker) finishAt(at entryAt, hdr *tar.Header, mode *uint32, clampTimes bool) error {
	if u.doChown {
		if err := u.safeChown(at, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if mode != nil {
		// The entry is not a symlink (checked or just made), so following
		// its last component is moot; fchmodat has no NOFOLLOW before 6.6.
		if err := unix.Fchmodat(at.fd(), at.name, *mode, 0); err != nil {
			return &os.PathError{Op: "fchmodat", Path: at.name, Err: err}
		}
	}
	ts := symlinkTimes(hdr)
	if clampTimes {
		ts = fileTimes(hdr)
	}
	if err := unix.UtimesNanoAt(at.fd(), at.name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: at.name, Err: err}
	}
	path := at.procPath()
	return u.xattrs(hdr, func(k string, v []byte) error { return unix.Lsetxattr(path, k, v, 0) })
}

// xattrs sets the entry's SCHILY.xattr records with set, skipping
// security.selinux and tolerating what storage tolerates.
func (u *unpacker) xattrs(hdr *tar.Header, set func(string, []byte) error) error {
	for key, value := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(key, archive.PaxSchilyXattr)
		if !ok || name == "security.selinux" {
			continue
		}
		if err := set(name, []byte(value)); err != nil {
			if errors.Is(err, unix.ENOTSUP) || (u.opts.InUserNS && errors.Is(err, unix.EPERM)) {
				continue
			}
			return &os.PathError{Op: "setxattr " + name, Path: hdr.Name, Err: err}
		}
	}
	// ForceMask made anything but a directory, symlink or hardlink a
	// regular file; those two kinds keep their real metadata in an xattr.
	if u.opts.ForceMask != nil && hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeLink {
		return overrideXattr(hdr, set)
	}
	return nil
}

// overrideXattr records the entry's real owner, mode and device numbers
// when ForceMask replaces them on disk, as storage does.
func overrideXattr(hdr *tar.Header, set func(string, []byte) error) error {
	value := idtools.FormatContainersOverrideXattrDevice(hdr.Uid, hdr.Gid, hdr.FileInfo().Mode(), int(hdr.Devmajor), int(hdr.Devminor))
	return set(idtools.ContainersOverrideXattr, []byte(value))
}

// finish sets the directories' times, after everything inside them was
// written.
func (u *unpacker) finish() error {
	for _, hdr := range u.dirs {
		f, err := u.rs.openDir(hdr.Name)
		if err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
		err = futimens(int(f.Fd()), dirTimes(hdr))
		f.Close()
		if err != nil {
			return &os.PathError{Op: "futimens", Path: hdr.Name, Err: err}
		}
	}
	if u.opts.ForceMask != nil {
		return u.rootOverride()
	}
	return nil
}

// rootOverride records the root's mode and owner under ForceMask, from
// the tar's root entry or 0755 root-owned.
func (u *unpacker) rootOverride() error {
	root, err := u.rs.openDir(".")
	if err != nil {
		return err
	}
	defer root.Close()
	uid, gid, mode := 0, 0, os.ModeDir|0o755
	if u.rootHdr != nil {
		uid, gid, mode = u.rootHdr.Uid, u.rootHdr.Gid, os.ModeDir|os.FileMode(u.rootHdr.Mode) //nolint:gosec // as storage
	}
	value := idtools.FormatContainersOverrideXattrDevice(uid, gid, mode, 0, 0)
	if err := unix.Fsetxattr(int(root.Fd()), idtools.ContainersOverrideXattr, []byte(value), 0); err != nil {
		return &os.PathError{Op: "fsetxattr", Path: ".", Err: err}
	}
	return nil
}

// maxTime is the latest time storage's system.Chtimes sets.
var maxTime = time.Unix(0, math.MaxInt64)

// clampTime is system.Chtimes' rule: outside [epoch, maxTime] is epoch.
func clampTime(t time.Time) unix.Timespec {
	if t.Before(time.Unix(0, 0)) || t.After(maxTime) {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// omitOrTime is timeToTimespec: a zero time leaves the time as it is.
func omitOrTime(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// accessTime is the entry's atime, never before its mtime.
func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.Before(hdr.ModTime) {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func fileTimes(hdr *tar.Header) []unix.Timespec {
	return []unix.Timespec{clampTime(accessTime(hdr)), clampTime(hdr.ModTime)}
}

func symlinkTimes(hdr *tar.Header) []unix.Timespec {
	return []unix.Timespec{omitOrTime(accessTime(hdr)), omitOrTime(hdr.ModTime)}
}

// dirTimes are the times the final pass gives a directory: its own atime,
// not raised to the mtime.
func dirTimes(hdr *tar.Header) []unix.Timespec {
	return []unix.Timespec{clampTime(hdr.AccessTime), clampTime(hdr.ModTime)}
}

// futimens sets the times of an open file.
func futimens(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}

// unixMode converts an os.FileMode's permission and special bits.
func unixMode(m os.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	return mode
}

// removeAllAt removes the entry at, a whole tree if a directory, without
// following symlinks.
func removeAllAt(at entryAt) error {
	err := unix.Unlinkat(at.fd(), at.name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "unlinkat", Path: at.name, Err: err}
	}
	fd, err := unix.Openat(at.fd(), at.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: at.name, Err: err}
	}
	dir := os.NewFile(uintptr(fd), at.name)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := removeAllAt(entryAt{dir: dir, name: name}); err != nil {
			return err
		}
	}
	if err := unix.Unlinkat(at.fd(), at.name, unix.AT_REMOVEDIR); err != nil {
		return &os.PathError{Op: "unlinkat", Path: at.name, Err: err}
	}
	return nil
}
