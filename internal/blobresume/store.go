// Package blobresume keeps the partial bytes of blobs whose download broke
// off, so that a later attempt (in this process or after a restart) asks the
// registry only for the rest.
//
// The model: one directory, and for a blob sha256:<hex> three files beside
// each other:
//
//	<hex>.data   the bytes received, from the blob's first byte on
//	<hex>.state  JSON: digest, size, offset, and (when known) the SHA-256
//	             state after offset bytes (crypto/sha256 digests marshal
//	             their state)
//	<hex>.lock   flock(2) target: one user of a partial at a time, across
//	             processes
//
// Hashing costs CPU on every download, and the consumer of a blob (here
// containers/image) verifies its digest anyway, so a first download is not
// hashed. Its state is written once, with its first bytes, and says only
// which blob the data file holds: every byte in the data file is kept (a
// SIGKILL cannot tear a write that returned), so no state needs saving
// while it grows. Saving it every megabyte, atomically by rename, cost a
// cold pull 2 % of its CPU time on ext4.
//
// A resumed download is hashed, and its state (written atomically, by
// rename) holds the hash state at an offset: it is saved at intervals while
// bytes arrive and when a download stops, and always describes a prefix of
// the data file, so a SIGKILL loses at most one interval. Its
// prefix is hashed while it is replayed to the consumer (a read that
// happens anyway, after the request for the rest has gone out), then the
// new bytes; from then on the saved state carries the hash, and a later
// resume of it replays without hashing again. Complete checks the digest
// of a resumed blob before its last byte is handed on; a partial that fails
// (a power loss can leave the state ahead of unsynced data) is removed.
//
// Bytes reach the data file in aligned chunks (WriteChunk, or less for a
// blob under 100 of them: see chunkFor), and the end of a burst within
// IdleFlush, not one write per socket read: the page cache charged a 1 GiB
// download 0.7 s of CPU for the ~20 KiB writes a socket read gives, a third
// of that for 64 KiB ones. So a SIGKILL in the middle of a download loses
// at most one chunk, under 1 % of the blob; a download that stalled,
// stopped or was cut loses nothing.
package blobresume

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Store is a directory of partial blobs. It is safe for concurrent use; a
// given blob is used by one Partial at a time (Open returns ErrBusy).
type Store struct {
	dir string
	// SaveEvery is how many bytes may arrive between two saves of a
	// hashed partial's state (what a SIGKILL can lose of a resumed
	// download; a first download loses nothing). Zero: DefaultSaveEvery.
	SaveEvery int64
	// SyncEvery is how many bytes may arrive between two requests to
	// write the data back to disk (sync_file_range, not waited for: a
	// download never stalls on the disk, and the page cache holds no more
	// than this much of a partial unwritten). A power loss can still lose
	// unwritten bytes; a partial whose state got ahead of its data fails
	// its digest and is removed. Close waits for the data (fsync). Zero:
	// DefaultSyncEvery.
	SyncEvery int64
	// MaxBytes and MaxAge bound the partials kept, as Clean does, every
	// time a new partial starts and every time one is kept (the oldest go
	// first; partials in use stay). Zero: no bound.
	MaxBytes int64
	MaxAge   time.Duration
}

// Defaults of Store.SaveEvery and Store.SyncEvery.
const (
	DefaultSaveEvery = 1 << 20
	DefaultSyncEvery = 64 << 20
)

// New opens (creating it if needed) the store of partial blobs in dir,
// which must be private (see PrivateDir; ErrNotPrivate otherwise).
func New(dir string) (*Store, error) {
	if err := PrivateDir(dir); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Supported reports whether a blob can be kept partially: a sha256 digest
// (the only hash whose state we persist) and a known, non-zero size.
func Supported(d digest.Digest, size int64) bool {
	return d.Validate() == nil && d.Algorithm() == digest.SHA256 && size > 0
}

// state is what <hex>.state holds.
type state struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	Offset int64         `json:"offset"`
	Hash   []byte        `json:"hash,omitempty"`
}

func (s *Store) path(d digest.Digest, ext string) string {
	return filepath.Join(s.dir, d.Encoded()+ext)
}

// Partial is one blob being received: what is on disk, its hash state, and
// the lock. Write appends; Close keeps the bytes for a later Open; Complete
// checks the digest and removes the files.
type Partial struct {
	s      *Store
	d      digest.Digest
	size   int64
	lock   *os.File
	h      hash.Hash
	hashed bool  // h covers the bytes [0, disk) (or will, once Prefix is read)
	off    int64 // bytes accepted: on disk or in buf
	resume int64 // offset found by Open

	// mu guards what the idle flush (a timer's goroutine) touches.
	mu     sync.Mutex
	data   *os.File
	buf    []byte // accepted bytes not on disk yet: [disk, off)
	disk   int64  // bytes on disk
	saved  int64  // offset of the last saved state
	synced int64  // offset of the last write-back request
	idle   *time.Timer
	err    error // a failed idle flush, returned by the next call
}

// Open locks the partial blob d of the given size and loads what an earlier
// attempt kept of it. It returns ErrBusy when another pull holds it. A
// state that does not describe this blob (other size, unreadable, longer
// than its data) is discarded, and the download starts from zero.
func (s *Store) Open(d digest.Digest, size int64) (*Partial, error) {
	if !Supported(d, size) {
		return nil, fmt.Errorf("blob %s of size %d cannot be resumed", d, size)
	}
	lock, err := lockFile(s.path(d, ".lock"))
	if err != nil {
		return nil, err
	}
	p := &Partial{s: s, d: d, size: size, lock: lock, h: sha256.New()}
	if err := p.load(); err != nil {
		unlock(lock)
		return nil, err
	}
	if p.off == 0 {
		s.enforce() // a new partial: make room for it within the bounds
	}
	return p, nil
}

// enforce applies MaxBytes and MaxAge.
func (s *Store) enforce() {
	if s.MaxBytes > 0 || s.MaxAge > 0 {
		s.Clean(s.MaxAge, s.MaxBytes)
	}
}

// OpenWait is Open that waits up to wait for a busy partial to be
// released (polling), for instance by the teardown of a canceled pull that
// is still closing it. It returns ErrBusy after that, or ctx's error.
func (s *Store) OpenWait(ctx context.Context, d digest.Digest, size int64, wait time.Duration) (*Partial, error) {
	deadline := time.Now().Add(wait)
	for {
		p, err := s.Open(d, size)
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return p, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// load opens the data file and restores the saved state, or starts over.
func (p *Partial) load() error {
	path := p.s.path(p.d, ".data")
	data, err := openNoFollow(path, os.O_RDWR|os.O_CREATE)
	if errors.Is(err, syscall.ELOOP) {
		// A link planted in place of the data: unlink it (never follow)
		// and start afresh.
		_ = os.Remove(path)
		_ = os.Remove(p.s.path(p.d, ".state"))
		data, err = openNoFollow(path, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	}
	if err != nil {
		return err
	}
	p.data = data
	off := p.restore()
	if off == 0 {
		p.h.Reset()
		p.hashed = false
	}
	// Bytes past the saved state were never hashed: drop them.
	if err := data.Truncate(off); err != nil {
		data.Close()
		return err
	}
	p.off, p.disk, p.saved, p.synced, p.resume = off, off, off, off, off
	return nil
}

// restore reads the state file into p.h and returns its offset, or 0 when
// there is no usable state.
func (p *Partial) restore() int64 {
	raw, err := readNoFollow(p.s.path(p.d, ".state"))
	if err != nil {
		return 0
	}
	var st state
	if json.Unmarshal(raw, &st) != nil || st.Digest != p.d || st.Size != p.size || st.Offset <= 0 || st.Offset > p.size {
		return 0
	}
	fi, err := p.data.Stat()
	if err != nil || fi.Size() < st.Offset {
		return 0
	}
	if st.Hash == nil {
		// Not hashed: every byte on disk counts (see the package doc).
		return min(fi.Size(), p.size)
	}
	if p.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hash) != nil {
		return 0
	}
	p.hashed = true
	return st.Offset
}

// Resumed is the number of bytes an earlier attempt had kept when Open
// found the partial.
func (p *Partial) Resumed() int64 { return p.resume }

// Offset is the number of bytes accepted (on disk, or on their way there):
// where the download continues.
func (p *Partial) Offset() int64 { return p.off }

// Size is the blob's declared size.
func (p *Partial) Size() int64 { return p.size }

// Prefix reads the bytes on disk (Offset of them), to replay them to
// whoever consumes the blob from its start. When the saved state had no
// hash, the replay hashes them: once it has been read to its end, the new
// bytes are hashed too and Complete can check the digest. Read it whole
// before the first Write.
func (p *Partial) Prefix() io.Reader {
	r := io.NewSectionReader(p.data, 0, p.off)
	if p.hashed || p.off == 0 {
		return r
	}
	return &catchUp{p: p, r: r}
}

// catchUp hashes the prefix while it is replayed.
type catchUp struct {
	p    *Partial
	r    io.Reader
	read int64
}

func (c *catchUp) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.h.Write(b[:n])
	c.read += int64(n)
	if c.read == c.p.off {
		c.p.hashed = true
	}
	return n, err
}

// Verified reports whether Complete will check the digest: the partial was
// resumed and its prefix hashed (or its hash state restored).
func (p *Partial) Verified() bool { return p.hashed }

// ErrOversize is returned by Write when the bytes would exceed the blob's
// declared size.
var ErrOversize = errors.New("the registry sent more bytes than the blob's declared size")

// Bounds of the write path.
const (
	// WriteChunk is the size of the writes to the data file (at offsets
	// aligned to it) for blobs of 100 chunks or more: small writes cost
	// the page cache several times more CPU per byte (a 1 GiB partial cost
	// 0.7 s of CPU in 20 KiB writes, the size of a socket read, on the
	// kernel we measured), and much larger ones cost high-order page
	// allocations.
	WriteChunk = 64 << 10
	// IdleFlush is how long accepted bytes may wait in memory for the
	// rest of their chunk before they are written anyway: a SIGKILL in
	// the middle of a download loses at most the last chunk received,
	// and a download that stalled or stopped loses nothing.
	IdleFlush = 20 * time.Millisecond
)

// chunkFor is the write size for a blob of size bytes: WriteChunk, or the
// largest power of two under 1 % of the blob (at least 1 KiB), so that a
// SIGKILL never costs more than 1 % of it.
func chunkFor(size int64) int64 {
	c := int64(WriteChunk)
	for c > 1<<10 && c*100 > size {
		c /= 2
	}
	return c
}

// Write appends b (the blob's next bytes) to the partial: it reaches the
// data file (and the hash) in aligned chunks (chunkFor), the rest of a
// burst within IdleFlush. The state is saved every SaveEvery bytes written.
func (p *Partial) Write(b []byte) (int, error) {
	if int64(len(b)) > p.size-p.off {
		return 0, ErrOversize
	}
	if !p.hashed && p.off > 0 && p.resume == p.off {
		return 0, errors.New("blobresume: Write before the prefix was replayed")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	if p.buf == nil {
		p.buf = make([]byte, 0, chunkFor(p.size))
	}
	n := 0
	for n < len(b) {
		chunk := int64(cap(p.buf))
		room := int(chunk - p.off%chunk) // the chunks are aligned
		k := min(room, len(b)-n)
		p.buf = append(p.buf, b[n:n+k]...)
		n += k
		p.off += int64(k)
		if k == room {
			if err := p.flushLocked(); err != nil {
				p.err = err
				return n, err
			}
		}
	}
	if len(p.buf) > 0 {
		p.armIdleFlush()
	}
	return n, nil
}

// flushLocked writes the buffered bytes, starts their write-back every
// SyncEvery bytes and saves the state when due. p.mu is held.
func (p *Partial) flushLocked() error {
	if len(p.buf) == 0 {
		return nil
	}
	n, err := p.data.WriteAt(p.buf, p.disk)
	if p.hashed {
		p.h.Write(p.buf[:n])
	}
	p.disk += int64(n)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	if err != nil {
		return err
	}
	if p.disk-p.synced >= orDefault(p.s.SyncEvery, DefaultSyncEvery) {
		// Start the write-back without waiting for it: an fsync here
		// stalled every download on the disk (a cold 1 GiB pull took 1.7x
		// as long as without a partial).
		if err := unix.SyncFileRange(int(p.data.Fd()), p.synced, p.disk-p.synced, unix.SYNC_FILE_RANGE_WRITE); err != nil && !errors.Is(err, unix.ENOSYS) {
			return err
		}
		p.synced = p.disk
	}
	if p.needsSave() {
		return p.save()
	}
	return nil
}

// armIdleFlush (re)starts the timer that writes a burst's last bytes; its
// failure is returned by the next Write, Close or Complete. p.mu is held.
func (p *Partial) armIdleFlush() {
	if p.idle == nil {
		p.idle = time.AfterFunc(IdleFlush, func() { _ = p.flush() })
		return
	}
	p.idle.Reset(IdleFlush)
}

// flush writes the buffered bytes now (nothing once the partial is
// released), and returns this or an earlier flush's failure.
func (p *Partial) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil && p.data != nil {
		p.err = p.flushLocked()
	}
	return p.err
}

// needsSave reports whether the state must be saved now: a hashed partial
// every SaveEvery bytes, an unhashed one once, when its data file first
// holds bytes (see the package doc).
func (p *Partial) needsSave() bool {
	if !p.hashed {
		return p.saved == 0 && p.disk > 0
	}
	return p.disk-p.saved >= orDefault(p.s.SaveEvery, DefaultSaveEvery)
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// save writes the state for the bytes on disk, atomically. p.mu is held
// (or no timer is left).
func (p *Partial) save() error {
	st := state{Digest: p.d, Size: p.size, Offset: p.disk}
	if p.hashed {
		hs, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return err
		}
		st.Hash = hs
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	final := p.s.path(p.d, ".state")
	tmp := final + ".tmp"
	if err := writeNoFollow(tmp, raw); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	p.saved = p.disk
	return nil
}

// ErrCannotGrow is returned by Close when it discarded the partial instead
// of keeping it: the file system has no room for the rest of the blob, so
// a kept partial would only take the room a next pull needs.
var ErrCannotGrow = errors.New("no room left for the rest of the blob: the partial is not kept")

// Close saves the state and the data (fsync) for a later attempt and
// releases the partial; then the Store's bounds are applied. A partial
// that cannot grow to its size (the file system lacks the room) or whose
// data cannot be saved is discarded.
func (p *Partial) Close() error {
	p.stopIdleFlush()
	err := p.flush()
	p.mu.Lock()
	if err == nil {
		err = p.data.Sync()
	}
	if err == nil && p.disk > p.saved {
		err = p.save()
	}
	p.mu.Unlock()
	if err == nil && !p.canGrow() {
		err = ErrCannotGrow
	}
	if err != nil {
		p.Discard()
		return err
	}
	p.release()
	p.s.enforce()
	return nil
}

// canGrow reports whether the file system of the store has room for the
// bytes the partial still lacks.
func (p *Partial) canGrow() bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p.s.dir, &st); err != nil {
		return true // cannot tell: keep it
	}
	return int64(st.Bavail)*int64(st.Bsize) >= p.size-p.off
}

// Discard removes the partial's files, its lock file included, and
// releases it.
func (p *Partial) Discard() {
	p.stopIdleFlush()
	p.mu.Lock()
	p.remove()
	p.mu.Unlock()
	if p.lock != nil {
		// Removed while locked: a process waiting on it finds the path
		// gone after locking and starts over (see lockFile).
		_ = os.Remove(p.s.path(p.d, ".lock"))
	}
	p.release()
}

// Complete reports whether all size bytes arrived and, for a Verified
// partial, hash to the digest (an unverified one is the consumer's to
// check); either way the partial is removed and released: a complete blob
// is the caller's now, a wrong one is useless. It returns an error for a
// wrong or short blob.
func (p *Partial) Complete() error {
	defer p.Discard()
	if err := p.flush(); err != nil {
		return fmt.Errorf("blob %s: keeping its bytes: %w", p.d, err)
	}
	if p.off != p.size {
		return fmt.Errorf("blob %s: %d of %d bytes", p.d, p.off, p.size)
	}
	if !p.hashed {
		return nil
	}
	if got := digest.NewDigest(digest.SHA256, p.h); got != p.d {
		return fmt.Errorf("blob %s: the bytes received hash to %s", p.d, got)
	}
	return nil
}

// stopIdleFlush stops the idle flush's timer; one already running finishes
// (under p.mu) before the data file is closed, or finds it closed.
func (p *Partial) stopIdleFlush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle != nil {
		p.idle.Stop()
	}
}

func (p *Partial) remove() {
	_ = os.Remove(p.s.path(p.d, ".state"))
	_ = os.Remove(p.s.path(p.d, ".state.tmp"))
	_ = os.Remove(p.s.path(p.d, ".data"))
	p.off, p.disk, p.saved, p.synced, p.hashed = 0, 0, 0, 0, false
	p.buf = p.buf[:0]
}

func (p *Partial) release() {
	p.stopIdleFlush()
	p.mu.Lock()
	if p.data != nil {
		_ = p.data.Close()
		p.data = nil
	}
	p.mu.Unlock()
	if p.lock != nil {
		unlock(p.lock)
		p.lock = nil
	}
}

// readNoFollow reads a small file of the store, never through a link.
func readNoFollow(path string) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// writeNoFollow writes a new file of the store in place of path's entry
// (a link there is unlinked, never followed).
func writeNoFollow(path string, b []byte) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// modTime is when the partial last grew, for Clean (of the entry itself,
// never of what a link points to).
func modTime(path string) (time.Time, int64, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, 0, false
	}
	return fi.ModTime(), fi.Size(), true
}
