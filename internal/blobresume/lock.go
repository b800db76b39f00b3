package blobresume

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrBusy is returned by Store.Open when another pull (in this process or
// another) holds the partial blob.
var ErrBusy = errors.New("the partial blob is in use by another pull")

// lockFile takes an exclusive flock(2) on path, without waiting. flock locks
// belong to an open file description, so two opens in one process exclude
// each other as two processes do.
//
// A lock file may be removed (Clean) while another process holds it open
// waiting; after locking, the path must still name the locked inode, else
// the lock guards a file nobody else can find and the attempt starts over.
func lockFile(path string) (*os.File, error) {
	for range 8 {
		f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE)
		if errors.Is(err, syscall.ELOOP) {
			// A link planted in place of the lock can be nobody's lock:
			// unlink it (never follow) and lock a file of our own.
			_ = os.Remove(path)
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, ErrBusy
			}
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if sameFile(f, path) {
			return f, nil
		}
		f.Close() // removed or replaced meanwhile: lock the new one
	}
	return nil, ErrBusy
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// unlock releases and closes a lock taken by lockFile.
func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// Lock is an exclusive flock(2) on a file, for users outside the package
// (an engine's private temporary directory).
type Lock struct{ f *os.File }

// LockPath locks path (creating the file), without waiting: ErrBusy when
// someone holds it.
func LockPath(path string) (*Lock, error) {
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() { unlock(l.f) }
