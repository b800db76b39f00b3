package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"

	"github.com/pullengine/pullengine/internal/blobresume"
	"github.com/pullengine/pullengine/internal/engineerr"
)

// ResumeOptions configure how the engine keeps interrupted blob downloads
// and resumes them (README "Resume"). The zero value is the default:
// resuming on, partials under <graph root>/resume, a five-minute stall
// watchdog.
type ResumeOptions struct {
	// Disabled turns resuming off: every download starts from the blob's
	// first byte and nothing is kept after a failure, as with
	// containers/image alone. Declared sizes are still enforced.
	Disabled bool
	// Dir holds the partial blobs. Empty: <graph root>/resume.
	Dir string
	// StallTimeout is how long a blob download may receive no byte before
	// the engine drops the connection and resumes on a new one (not a
	// failure). Zero: DefaultStallTimeout. Negative: no watchdog.
	StallTimeout time.Duration
	// MaxAge: partials untouched for longer are removed when an Engine
	// starts, when a new partial starts and when one is kept. Zero:
	// DefaultPartialMaxAge.
	MaxAge time.Duration
	// MaxBytes caps the bytes of the partials kept (the oldest go first;
	// partials in use stay), when an Engine starts, when a new partial
	// starts and when one is kept. Zero: DefaultPartialMaxBytes; negative:
	// no cap.
	MaxBytes int64
	// SaveEvery is how many bytes may arrive between two saves of a
	// partial's hash state: what a SIGKILL can cost a download that was
	// itself resumed (a first download keeps every byte it wrote). Zero:
	// 1 MiB.
	SaveEvery int64
}

// Defaults of ResumeOptions.
const (
	DefaultStallTimeout    = 5 * time.Minute
	DefaultPartialMaxAge   = 7 * 24 * time.Hour
	DefaultPartialMaxBytes = 10 << 30
)

// resumeConf is ResumeOptions resolved.
type resumeConf struct {
	partials *blobresume.Store // nil: resuming is off
	stall    time.Duration     // <= 0: no watchdog
}

// setupResume opens the partial-blob store and cleans it. A directory
// that is not private (blobresume.PrivateDir) fails New: another user could
// plant files in it. Any other trouble only costs resuming: without a
// usable directory, pulls just do not resume.
func (e *Engine) setupResume(opts ResumeOptions) error {
	e.resume.stall = opts.StallTimeout
	if e.resume.stall == 0 {
		e.resume.stall = DefaultStallTimeout
	}
	if opts.Disabled {
		return nil
	}
	dir := opts.Dir
	if dir == "" {
		dir = filepath.Join(e.store.GraphRoot(), "resume")
	}
	s, err := blobresume.New(dir)
	if errors.Is(err, blobresume.ErrNotPrivate) {
		return notPrivate("Resume.Dir", opts.Dir != "", err)
	}
	if err != nil {
		e.log.Warn("partial downloads will not be kept", "dir", dir, "err", err)
		return nil
	}
	s.SaveEvery = opts.SaveEvery
	maxAge, maxBytes := opts.MaxAge, opts.MaxBytes
	if maxAge <= 0 {
		maxAge = DefaultPartialMaxAge
	}
	if maxBytes == 0 {
		maxBytes = DefaultPartialMaxBytes
	}
	s.MaxAge, s.MaxBytes = maxAge, max(maxBytes, 0)
	if freed := s.Clean(s.MaxAge, s.MaxBytes); freed > 0 {
		e.log.Info("removed stale partial downloads", "dir", dir, "bytes", freed)
	}
	e.resume.partials = s
	return nil
}

// notPrivate is the error of New for a directory of the engine that is
// not private: InvalidArgument when the caller named it (option), Storage
// when it is the engine's default under the store.
func notPrivate(what string, named bool, err error) error {
	kind := pullerrors.Storage
	if named {
		kind = pullerrors.InvalidArgument
	}
	return engineerr.Final(pullerrors.Errorf(kind, "%s: %w", what, err))
}

// tmpDirPrefix names the per-Engine directory inside the big-files
// temporary directory; tmpLockName is the lock its owner holds. A new
// directory is made under tmpNewPrefix, locked, then renamed, so that no
// other engine ever sees it unlocked.
const (
	tmpDirPrefix = "pullengine-"
	tmpNewPrefix = ".pullengine-new-"
	tmpLockName  = ".owner.lock"
	// tmpNewMaxAge: a directory still under tmpNewPrefix after this long
	// belongs to an engine that died while starting.
	tmpNewMaxAge = time.Hour
)

// setupTmpDir gives the engine a private directory under base (containers/
// image's big-files directory: blobs being stored) and removes those of
// engines that are gone (killed before Close). Each directory holds a
// flock(2)-ed file while its engine lives, so an engine in another process
// on the same store is never robbed.
//
// The default base (<graph root>/tmp) must be private (ErrNotPrivate
// otherwise); a base the caller chose (/var/tmp, say) may be shared, and
// only the engine's own directory in it is private.
func (e *Engine) setupTmpDir(base string) (string, error) {
	if base == filepath.Join(e.store.GraphRoot(), "tmp") {
		if err := blobresume.PrivateDir(base); err != nil {
			return "", notPrivate("the store's temporary directory", false, err)
		}
	}
	e.cleanTmpDirs(base)
	newDir, err := os.MkdirTemp(base, tmpNewPrefix)
	if err != nil {
		return "", err
	}
	lock, err := blobresume.LockPath(filepath.Join(newDir, tmpLockName))
	if err != nil {
		_ = os.RemoveAll(newDir)
		return "", err
	}
	dir := filepath.Join(base, tmpDirPrefix+strings.TrimPrefix(filepath.Base(newDir), tmpNewPrefix))
	if err := os.Rename(newDir, dir); err != nil {
		lock.Unlock()
		_ = os.RemoveAll(newDir)
		return "", err
	}
	e.tmpLock = lock
	e.tmpDir = dir
	return dir, nil
}

// cleanTmpDirs removes the private directories whose engine is gone.
func (e *Engine) cleanTmpDirs(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, tmpDirPrefix+"*"))
	for _, dir := range dirs {
		if !blobresume.OwnDir(dir) {
			continue // a link or another user's: never followed, never ours to remove
		}
		lock, err := blobresume.LockPath(filepath.Join(dir, tmpLockName))
		if err != nil {
			continue // alive (or not ours to judge)
		}
		err = os.RemoveAll(dir)
		lock.Unlock()
		if err == nil {
			e.log.Info("removed the temporary files of an engine that did not close", "dir", dir)
		}
	}
	starting, _ := filepath.Glob(filepath.Join(base, tmpNewPrefix+"*"))
	for _, dir := range starting {
		if fi, err := os.Lstat(dir); err == nil && blobresume.OwnDir(dir) && time.Since(fi.ModTime()) > tmpNewMaxAge {
			_ = os.RemoveAll(dir)
		}
	}
}

// closeTmpDir removes the engine's private directory.
func (e *Engine) closeTmpDir() {
	if e.tmpLock == nil {
		return
	}
	_ = os.RemoveAll(e.tmpDir)
	e.tmpLock.Unlock()
	e.tmpLock = nil
}
