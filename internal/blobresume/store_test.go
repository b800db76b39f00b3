package blobresume

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func blob(t *testing.T, n int) ([]byte, digest.Digest) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b, digest.FromBytes(b)
}

// replay reads a partial's prefix whole and checks it.
func replay(t *testing.T, p *Partial, want []byte) {
	t.Helper()
	got, err := io.ReadAll(p.Prefix())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("prefix: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
}

// A first download is not hashed (the consumer verifies it); a resume
// hashes the prefix while replaying it, then the rest, and Complete checks
// the digest.
func TestResumeVerifiesDigest(t *testing.T) {
	s, err := New(filepath.Join(t.TempDir(), "partials"))
	if err != nil {
		t.Fatal(err)
	}
	s.SaveEvery = 1000
	b, d := blob(t, 10000)
	p, err := s.Open(d, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(b[:4321]); err != nil {
		t.Fatal(err)
	}
	if p.Verified() {
		t.Error("a first download is hashed")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = s.Open(d, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Resumed() != 4321 {
		t.Fatalf("resumed at %d, want 4321", p.Resumed())
	}
	if _, err := p.Write(b[4321:4400]); err == nil {
		t.Error("Write before the replay was accepted")
	}
	replay(t, p, b[:4321])
	if !p.Verified() {
		t.Fatal("not verified after the replay")
	}
	if _, err := p.Write(b[4321:]); err != nil {
		t.Fatal(err)
	}
	if err := p.Complete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(d, ".data")); !os.IsNotExist(err) {
		t.Errorf("data left after Complete: %v", err)
	}
}

// Once a resumed download saved its hash state, the next resume restores
// it: no hashing of the replay, and the digest is still checked.
func TestSavedHashStateIsRestored(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.SaveEvery = 100
	b, _ := blob(t, 3000)
	p := resumedAt(t, s, b, 1000)
	_, _ = p.Write(b[1000:2000])
	_ = p.Close()
	reopenAndFinish(t, s, b, 2000, true)
}

// Without Close (a SIGKILL), a first download keeps every byte that
// reached the file, the end of a burst IdleFlush after it arrived: its
// state was saved once, with its first bytes, and names the blob only.
func TestKilledFirstDownloadKeepsEveryByte(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.SaveEvery = 1000
	b, d := blob(t, 5000)
	p, _ := s.Open(d, 5000)
	_, _ = p.Write(b[:1500])
	_, _ = p.Write(b[1500:1700])
	settle(t, p)
	kill(p)
	reopenAndFinish(t, s, b, 1700, false)
}

// A SIGKILL in the middle of a burst loses at most the last chunk
// received: whole chunks are written as they fill. A chunk is WriteChunk
// for a blob of 100 chunks or more, and under 1 % of a smaller blob.
func TestKilledMidBurstLosesAtMostOneChunk(t *testing.T) {
	for _, size := range []int{100 * WriteChunk, 256 << 10, 1 << 20} {
		s, _ := New(filepath.Join(t.TempDir(), "partials"))
		b, d := blob(t, size)
		chunk := int(chunkFor(int64(size)))
		if chunk*100 > size || (size >= 100*WriteChunk && chunk != WriteChunk) {
			t.Fatalf("%d bytes: chunks of %d", size, chunk)
		}
		p, _ := s.Open(d, int64(size))
		sent := 3*chunk + chunk/2
		for off := 0; off < sent; off += 1000 { // socket-read-sized writes
			_, _ = p.Write(b[off:min(off+1000, sent)])
		}
		kill(p) // before the idle flush: the half chunk is lost
		reopenAndFinish(t, s, b, int64(3*chunk), false)
	}
}

// Without Close (a SIGKILL), a resumed download starts again at its last
// saved hash state; bytes written after it were never hashed and are
// dropped.
func TestKilledResumeRestartsAtLastSave(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.SaveEvery = 1000
	b, _ := blob(t, 5000)
	p := resumedAt(t, s, b, 500)
	_, _ = p.Write(b[500:1500]) // hashed: saves at 1500
	settle(t, p)
	_, _ = p.Write(b[1500:1700])
	settle(t, p)
	kill(p)
	reopenAndFinish(t, s, b, 1500, true)
}

// settle waits (no time limit but the test's) until the idle flush wrote
// every byte p accepted.
func settle(t *testing.T, p *Partial) {
	t.Helper()
	for {
		p.mu.Lock()
		done, err := p.disk == p.off, p.err
		p.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// resumedAt is b's partial after a first download that stopped at offset:
// open again, its prefix replayed, ready for the next byte.
func resumedAt(t *testing.T, s *Store, b []byte, offset int) *Partial {
	t.Helper()
	d, size := digest.FromBytes(b), int64(len(b))
	p, _ := s.Open(d, size)
	_, _ = p.Write(b[:offset])
	_ = p.Close()
	p, err := s.Open(d, size)
	if err != nil {
		t.Fatal(err)
	}
	replay(t, p, b[:offset])
	return p
}

// reopenAndFinish opens b's partial again, checks where it was restored
// (verified: from a saved hash state, not to be hashed again), replays the
// prefix, writes the rest and completes it: the digest must check.
func reopenAndFinish(t *testing.T, s *Store, b []byte, offset int64, verified bool) {
	t.Helper()
	p, err := s.Open(digest.FromBytes(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Verified() != verified || p.Offset() != offset {
		t.Fatalf("restored: verified %v at %d, want %v at %d", p.Verified(), p.Offset(), verified, offset)
	}
	replay(t, p, b[:offset])
	if _, err := p.Write(b[offset:]); err != nil {
		t.Fatal(err)
	}
	if err := p.Complete(); err != nil {
		t.Fatal(err)
	}
}

// kill ends p as a SIGKILL would: the lock goes, nothing else runs.
func kill(p *Partial) {
	p.stopIdleFlush() // a dead process writes nothing more
	unlock(p.lock)
	p.lock = nil
}

func TestBusyAndOversize(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	b, d := blob(t, 100)
	p, err := s.Open(d, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(d, 100); !errors.Is(err, ErrBusy) {
		t.Errorf("second Open: %v, want ErrBusy", err)
	}
	if _, err := p.Write(append(b, 'x')); !errors.Is(err, ErrOversize) {
		t.Errorf("oversize write: %v", err)
	}
	p.Discard()
}

// A state for another size is discarded; a resumed partial whose bytes are
// wrong fails the digest check and is removed.
func TestBadPartials(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.SaveEvery = 10
	b, d := blob(t, 100)
	p, _ := s.Open(d, 100)
	_, _ = p.Write(b[:50])
	_ = p.Close()
	q, _ := s.Open(d, 99)
	if q.Offset() != 0 {
		t.Errorf("a state for another size was used: offset %d", q.Offset())
	}
	q.Discard()

	p, _ = s.Open(d, 100)
	bad := bytes.Clone(b)
	bad[7] ^= 1
	_, _ = p.Write(bad[:50])
	_ = p.Close()
	p, _ = s.Open(d, 100)
	replay(t, p, bad[:50])
	_, _ = p.Write(b[50:])
	if err := p.Complete(); err == nil {
		t.Error("a corrupt blob completed")
	}
	if _, err := os.Stat(s.path(d, ".data")); !os.IsNotExist(err) {
		t.Errorf("a corrupt partial was kept: %v", err)
	}
}

// Clean removes old partials and enforces the size cap oldest first, but
// never a partial in use.
func TestClean(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.SaveEvery = 1
	mk := func(n int, age time.Duration) digest.Digest {
		b, d := blob(t, n)
		p, _ := s.Open(d, int64(n))
		_, _ = p.Write(b[:n/2])
		_ = p.Close()
		old := time.Now().Add(-age)
		_ = os.Chtimes(s.path(d, ".data"), old, old)
		return d
	}
	ancient := mk(100, 48*time.Hour)
	busy := mk(100, 48*time.Hour)
	older := mk(1000, 2*time.Hour)
	newer := mk(1000, time.Hour)
	held, err := s.Open(busy, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Discard()
	s.Clean(24*time.Hour, 600)
	exists := func(d digest.Digest) bool {
		_, err := os.Stat(s.path(d, ".data"))
		return err == nil
	}
	if exists(ancient) || exists(older) || !exists(newer) || !exists(busy) {
		t.Errorf("after Clean: ancient %v older %v newer %v busy %v", exists(ancient), exists(older), exists(newer), exists(busy))
	}
	if m, _ := filepath.Glob(filepath.Join(s.Dir(), "*.tmp")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// New refuses a directory others can write to or that is a link, and
// creates a missing one 0700.
func TestNewNeedsPrivateDir(t *testing.T) {
	open := t.TempDir()
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(open); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("a 0755 directory: %v, want ErrNotPrivate", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(link); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("a link: %v, want ErrNotPrivate", err)
	}
	made := filepath.Join(t.TempDir(), "new")
	if _, err := New(made); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(made); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created %v, %v; want 0700", fi.Mode(), err)
	}
}

// Discard and Complete remove the lock file with the partial; Close
// applies MaxBytes, the oldest partial first.
func TestLockRemovedAndBudgetOnClose(t *testing.T) {
	s, _ := New(filepath.Join(t.TempDir(), "partials"))
	s.MaxBytes = 150
	var ds []digest.Digest
	for i := range 3 {
		b, d := blob(t, 200+i)
		p, err := s.Open(d, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Write(b[:100])
		old := time.Now().Add(time.Duration(i-10) * time.Minute)
		_ = os.Chtimes(s.path(d, ".data"), old, old)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	left, _ := os.ReadDir(s.Dir())
	var names []string
	for _, de := range left {
		names = append(names, de.Name())
	}
	want := []string{ds[2].Encoded() + ".data", ds[2].Encoded() + ".lock", ds[2].Encoded() + ".state"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("left %v, want only the newest partial's files %v", names, want)
	}
	b, d := blob(t, 300)
	p, _ := s.Open(d, 300)
	_, _ = p.Write(b)
	if err := p.Complete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(s.path(d, ".lock")); !os.IsNotExist(err) {
		t.Errorf("the lock file outlived its completed partial: %v", err)
	}
}
