package main

// Where serve accepts connections: sockets handed over by systemd
// (LISTEN_FDS) or by a parent (--listen-fd), else its own TCP address or
// unix socket. Its own unix socket appears at its path only once it
// accepts, so a client that polls for the path (bootc does) never finds a
// socket that refuses it.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// socketActivated says whether systemd handed this process sockets:
// LISTEN_PID is this process and LISTEN_FDS counts at least one. It reads
// the environment only; activatedListeners takes the sockets.
func socketActivated() bool {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return false
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	return err == nil && n > 0
}

// activatedListeners takes the sockets systemd handed over, and unsets
// LISTEN_* so that no child process believes they are its own.
func activatedListeners() ([]net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		if l == nil {
			closeAll(ls)
			return nil, fmt.Errorf("LISTEN_FDS: fd %d is not a listening stream socket", 3+i)
		}
	}
	if len(ls) == 0 {
		return nil, errors.New("LISTEN_FDS: no socket")
	}
	return ls, nil
}

// fdListener takes the listening socket at fd (--listen-fd), and closes fd
// itself: the listener holds a close-on-exec copy, so no child process
// inherits the socket.
func fdListener(fd int) (net.Listener, error) {
	accepting, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	switch {
	case errors.Is(err, syscall.EBADF):
		return nil, fmt.Errorf("--listen-fd %d: no such open file descriptor", fd)
	case errors.Is(err, syscall.ENOTSOCK):
		return nil, fmt.Errorf("--listen-fd %d: not a socket", fd)
	case err != nil:
		return nil, fmt.Errorf("--listen-fd %d: %w", fd, err)
	case accepting == 0:
		return nil, fmt.Errorf("--listen-fd %d: the socket is not listening (call listen(2) on it first)", fd)
	}
	f := os.NewFile(uintptr(fd), "listen-fd")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("--listen-fd %d: %w", fd, err)
	}
	return l, nil
}

// listenerURL is the URL clients use to reach l.
func listenerURL(l net.Listener) string {
	return l.Addr().Network() + "://" + l.Addr().String()
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}

// defaultSocket is where the server listens without --socket, next to
// where Podman puts its own.
func defaultSocket() (string, error) {
	if os.Geteuid() == 0 {
		return "/run/pullengine/pullengine.sock", nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "", errors.New("XDG_RUNTIME_DIR is not set: give the socket's path with --socket")
	}
	return filepath.Join(dir, "pullengine", "pullengine.sock"), nil
}

// prepareSocketPath makes path's directory (0700 if missing) and clears
// the way for a socket there: a stale socket left by a server that died is
// removed; a live one, or any other file, is an error. It runs before the
// store is opened, so these errors come at once.
func prepareSocketPath(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s: another server is listening there", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the stale socket: %w", err)
	}
	return nil
}

// listenUnix listens on a unix socket at path (prepared by
// prepareSocketPath), with mode 0600 from the start. The socket is bound
// and listening under a temporary name in the same directory, then linked
// to path: the path appears only once connections are accepted, and never
// replaces a file that appeared meanwhile. Closing the listener removes
// path.
func listenUnix(path string) (net.Listener, error) {
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%d.sock", os.Getpid()))
	_ = os.Remove(tmp) // a leftover of a killed process with this pid
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", tmp)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s: another server is listening there", path)
		}
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &pathListener{Listener: l, path: path, file: fi}, nil
}

// pathListener is a unix listener whose Close removes its path, if the
// path still names its socket.
type pathListener struct {
	net.Listener
	path string
	file os.FileInfo
}

// Addr is the socket's path, not its temporary name.
func (l *pathListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close closes the listener and removes the path.
func (l *pathListener) Close() error {
	err := l.Listener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.file) {
		_ = os.Remove(l.path)
	}
	return err
}
