package blobresume

import (
	"os"
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
	for _, d := range s.partials() {
		mod, size, ok := modTime(s.path(d, ".data"))
		if !ok {
			mod, _, _ = modTime(s.path(d, ".lock"))
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

// partials lists the digests that have files in the store: a lock, data
// or a state (a partial whose lock file is gone is found too).
func (s *Store) partials() []digest.Digest {
	seen := map[digest.Digest]bool{}
	var out []digest.Digest
	entries, _ := os.ReadDir(s.dir)
	for _, de := range entries {
		name := de.Name()
		for _, ext := range []string{".lock", ".data", ".state", ".state.tmp"} {
			hex, ok := strings.CutSuffix(name, ext)
			if !ok {
				continue
			}
			d := digest.NewDigestFromEncoded(digest.SHA256, hex)
			if d.Validate() == nil && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
			break
		}
	}
	return out
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
