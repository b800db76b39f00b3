// Package localsource opens a local image source (an archive, an OCI
// layout, a dir: directory) once, beneath a directory the operator allows,
// and gives the transport a path to what was checked.
//
// containers/image reopens a source by path on every attempt of a copy, and
// resolves symlinks as it goes: a source renamed, replaced by a symlink or
// grown after the check is read as it is then, not as it was checked. So the
// source is opened once with openat2 (beneath the allowed directory, no
// symlinks anywhere, O_PATH so that opening a FIFO or a device has no
// effect), its type checked with fstat, and what the transport reads is
// made private:
//
//   - an oci-archive is decompressed into a private file: the transport
//     extracts that copy, which nobody else can change between the check of
//     its entries and the extraction;
//   - an uncompressed docker-archive is read through /proc/self/fd/N (the
//     transport reads its entries, extracts nothing, and does not resolve
//     the path); a compressed one is decompressed into a private file, so
//     containers/image does not decompress it, unbounded, itself;
//   - a layout or dir: directory is mirrored into a private directory:
//     every entry opened beneath the source without following symlinks,
//     only directories and regular files accepted (a FIFO, device, socket
//     or symlink is refused), small files copied, larger ones hard-linked
//     (copied where linking fails).
//
// Copies are bounded (Options.MaxBytes) and stop when the context ends.
// Close removes the private copy.
package localsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	pullerrors "github.com/pullengine/pullengine/errors"
	"golang.org/x/sys/unix"
)

// Kind is the kind of local source, which says how it is opened.
type Kind int

const (
	// OCIArchive is an oci-archive: file.
	OCIArchive Kind = iota
	// DockerArchive is a docker-archive: file.
	DockerArchive
	// Layout is an oci: layout directory or a dir: directory.
	Layout
)

// Options bound the private copy.
type Options struct {
	// TempDir is where the private directory is made (on the store's file
	// system, so hard links work).
	TempDir string
	// MaxBytes is the most bytes copied for one source (decompressed
	// archive, layout files that are copied); zero means no bound.
	MaxBytes int64
}

// Source is a local source opened once. Path is what the transport reads.
type Source struct {
	// Path is the path to hand the transport, instead of the one asked.
	Path string
	fd   int    // the O_PATH descriptor of the source (-1 once closed)
	dir  string // the private directory, "" if none
}

// Close releases the descriptor and removes the private copy.
func (s *Source) Close() error {
	var err error
	if s.fd >= 0 {
		err = unix.Close(s.fd)
		s.fd = -1
	}
	if s.dir != "" {
		err = errors.Join(err, os.RemoveAll(s.dir))
		s.dir = ""
	}
	return err
}

// Open opens rel beneath root (an absolute directory the operator allows,
// symlinks already resolved), checks it is what kind needs, and makes the
// private copy the transport will read. shown is the path as the client
// named it, for messages. Errors are classified: NotFound for a missing
// source, Denied for a path leading through a symlink or out of root,
// InvalidArgument for a source that is not a regular file (archives) or
// directory (layouts), Unsupported past MaxBytes, Canceled when ctx ends.
func Open(ctx context.Context, root, rel string, kind Kind, shown string, o Options) (src *Source, err error) {
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError(shown, err)
	}
	defer unix.Close(rootFD)
	fd, st, err := openBeneath(rootFD, rel)
	if err != nil {
		return nil, openError(shown, err)
	}
	s := &Source{fd: fd}
	defer func() {
		if err != nil {
			_ = s.Close()
			src = nil
		}
	}()
	want := uint32(unix.S_IFREG)
	if kind == Layout {
		want = unix.S_IFDIR
	}
	if st.Mode&unix.S_IFMT != want {
		return nil, pullerrors.Errorf(pullerrors.InvalidArgument, "%s is %s, not %s", shown, describeMode(st.Mode), describeMode(want))
	}
	if kind == DockerArchive {
		compressed, err := isCompressed(fd)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", shown, pullerrors.Wrap(pullerrors.InvalidArgument, err))
		}
		if !compressed {
			s.Path = procPath(fd)
			return s, nil
		}
	}
	if s.dir, err = os.MkdirTemp(o.TempDir, "localsource-"); err != nil {
		return nil, fmt.Errorf("making a private copy of %s: %w", shown, pullerrors.Wrap(pullerrors.Storage, err))
	}
	c := &copier{ctx: ctx, left: o.MaxBytes, max: o.MaxBytes, shown: shown}
	if kind == Layout {
		s.Path = filepath.Join(s.dir, "layout")
		err = c.tree(fd, s.Path, ".", 0)
	} else {
		s.Path = filepath.Join(s.dir, "archive.tar")
		err = c.decompress(fd, s.Path)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openBeneath opens name beneath dirFD as an O_PATH descriptor, refusing
// any symlink on the way and any escape from dirFD, and fstats it.
func openBeneath(dirFD int, name string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat2(dirFD, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}

// reopen opens an O_PATH descriptor's file for reading, non-blocking (a
// FIFO never gets here, but a read must not hang on one either).
func reopen(fd int, dir bool) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if dir {
		flags |= unix.O_DIRECTORY
	}
	rfd, err := unix.Open(procPath(fd), flags, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(rfd), procPath(fd)), nil
}

// procPath names an open descriptor: opening it opens the same file,
// wherever it has moved since.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openError classifies a failed open of the source.
func openError(shown string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s: %w", shown, pullerrors.Wrap(pullerrors.NotFound, err))
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return pullerrors.Errorf(pullerrors.Denied, "%s leads through a symlink or out of the allowed directory (it changed after the check): %w", shown, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%s: %w", shown, pullerrors.Wrap(pullerrors.Denied, err))
	}
	return fmt.Errorf("opening %s: %w", shown, pullerrors.Wrap(pullerrors.Storage, err))
}

// describeMode names a file type for messages.
func describeMode(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "of an unknown type"
}
