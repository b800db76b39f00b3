package blobresume

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotPrivate is returned for a directory that others could plant files
// in or read: not a directory (a symbolic link, say), not owned by the
// process's user, or open to its group or others.
var ErrNotPrivate = errors.New("not a private directory")

// PrivateDir creates dir (and missing parents) with mode 0700 when it does
// not exist, and checks that it is private: a real directory (not a link
// to one), owned by the process's effective user, with no permission for
// group or others. Files in a private directory cannot be planted by
// another user; the store opens them with O_NOFOLLOW all the same.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is a %s, not a directory: %w", dir, fi.Mode().Type(), ErrNotPrivate)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is not owned by the user running the engine (uid %d): %w", dir, os.Geteuid(), ErrNotPrivate)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s has mode %#o; it must give no access to group or others (chmod 0700): %w", dir, fi.Mode().Perm(), ErrNotPrivate)
	}
	return nil
}

// OwnDir reports whether path is a directory (not a link to one) owned by
// the process's effective user: PrivateDir's first two checks, without the
// mode, for clean-ups that must never follow a link or touch another
// user's directory.
func OwnDir(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// openNoFollow opens path (in the store's directory) without following a
// symbolic link in its last component: a planted link fails with ELOOP
// rather than making the engine write where it points.
func openNoFollow(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
}
