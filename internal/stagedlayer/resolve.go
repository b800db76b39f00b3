package stagedlayer

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Resolving names inside the layer root.
//
// Every directory the untar writes into is opened through a resolver that
// follows symlinks only while they stay beneath the root, and fails, with
// an error wrapping ErrUnsafePath, for a name or symlink that would leave
// it (a ".." above the root, an absolute name or an absolute symlink).
// The entry's last component is then handled with *at system calls on
// that directory, never followed. The resolution is the kernel's
// (openat2 RESOLVE_BENEATH, Linux 5.6+) or, where the kernel lacks
// openat2, the standard library's os.Root, which walks one component at a
// time with O_NOFOLLOW and refuses the same escapes.
//
// Where storage's chrooted untar re-roots an escaping name (the chroot
// turns "../x" into "x" and an absolute symlink into one inside the
// layer), this differ refuses it: layer tools never write such entries,
// and a name that tries is treated as an attack.

// resolver opens directories beneath a root.
type resolver interface {
	// openDir opens the directory rel (a cleaned relative name, "." for
	// the root itself) for reading, following symlinks within the root.
	openDir(rel string) (*os.File, error)
	close() error
}

// forceRootFallback makes newResolver use os.Root even where openat2
// works; the tests set it to cover the fallback.
var forceRootFallback = false

// newResolver returns the resolver for root, openat2's where the kernel
// has it.
func newResolver(root string) (resolver, error) {
	if !forceRootFallback && openat2Works() {
		fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: root, Err: err}
		}
		return openat2Resolver{root: os.NewFile(uintptr(fd), root)}, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return osRootResolver{root: r}, nil
}

// openat2Works reports whether the kernel (and any seccomp filter) lets
// this process call openat2.
var openat2Works = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
	if err != nil {
		return !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM)
	}
	unix.Close(fd)
	return true
})

// openat2Resolver resolves with openat2 RESOLVE_BENEATH.
type openat2Resolver struct{ root *os.File }

func (r openat2Resolver) openDir(rel string) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 { // EAGAIN: a rename raced the lookup; nothing else renames here
		fd, err := unix.Openat2(int(r.root.Fd()), rel, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), rel), nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EXDEV):
			return nil, fmt.Errorf("%q: %w", rel, ErrUnsafePath)
		default:
			return nil, &os.PathError{Op: "openat2", Path: rel, Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: rel, Err: unix.EAGAIN}
}

func (r openat2Resolver) close() error { return r.root.Close() }

// osRootResolver resolves with os.Root.
type osRootResolver struct{ root *os.Root }

func (r osRootResolver) openDir(rel string) (*os.File, error) {
	f, err := r.root.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err == nil {
		return f, nil
	}
	if isRootEscape(err) {
		return nil, fmt.Errorf("%q: %w", rel, ErrUnsafePath)
	}
	return nil, err
}

func (r osRootResolver) close() error { return r.root.Close() }

// isRootEscape reports whether err is os.Root's refusal of a name that
// leaves the root. os.Root does not export that error, so the value is
// taken from a probe once: the error it gives for "..".
func isRootEscape(err error) bool {
	escape := rootEscapeErr()
	return escape != nil && errors.Is(err, escape)
}

var rootEscapeErr = sync.OnceValue(func() error {
	r, err := os.OpenRoot(os.TempDir())
	if err != nil {
		return nil
	}
	defer r.Close()
	_, err = r.Open("..")
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
})
