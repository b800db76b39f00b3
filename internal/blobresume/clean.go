package blobresume

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Clean removes partials not touched for maxAge, then the oldest ones until
// the rest take at most maxBytes (0: no cap). A partial in use (locked) is
// never removed, so Clean is safe while other processes pull into the same
// store. It returns the number of bytes freed.
func (s *Store) Clean(maxAge time.Duration, maxBytes int64) int64 {
	type entry struct {
		d    digest.Digest
		mod  time.Time
		size int64
	}
	var entries []entry
	names, _ := filepath.Glob(filepath.Join(s.dir, "*.lock"))
	for _, name := range names {
		d := digest.NewDigestFromEncoded(digest.SHA256, strings.TrimSuffix(filepath.Base(name), ".lock"))
		if d.Validate() != nil {
			continue
		}
		mod, size, ok := modTime(s.path(d, ".data"))
		if !ok {
			mod, _, _ = modTime(name)
		}
		entries = append(entries, entry{d, mod, size})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mod.Compare(b.mod) })
	var total int64
	for _, e := range entries {
		total += e.size
	}
	var freed int64
	now := time.Now()
	for _, e := range entries {
		old := maxAge > 0 && now.Sub(e.mod) > maxAge
		over := maxBytes > 0 && total > maxBytes
		if !old && !over {
			continue
		}
		if s.removeIdle(e.d) {
			total -= e.size
			freed += e.size
		}
	}
	return freed
}

// removeIdle removes the files of partial d if nobody holds it. The lock
// file goes last, while locked: a process that opened it meanwhile finds
// the path gone after locking and starts over (see lockFile).
func (s *Store) removeIdle(d digest.Digest) bool {
	lock, err := lockFile(s.path(d, ".lock"))
	if err != nil {
		return false
	}
	defer unlock(lock)
	for _, ext := range []string{".state", ".state.tmp", ".data", ".lock"} {
		if err := os.Remove(s.path(d, ext)); err != nil && !os.IsNotExist(err) {
			return false
		}
	}
	return true
}
