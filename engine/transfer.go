package engine

import (
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/progress"
)

// Transfer sums up what a pull moved. Concurrent pulls of one image share
// one transfer (see Engine.Pull), and each reports the blobs it watched
// move from the moment it joined.
type Transfer struct {
	// BytesFetched is the number of blob bytes fetched from the source:
	// the bytes of the blobs copied, less those resumed from disk, plus
	// those fetched again and discarded. For a layer pulled partially
	// (zstd:chunked, see Options.PartialPulls) it counts the bytes read
	// from the source: table of contents and missing chunks.
	BytesFetched int64 `json:"bytesFetched"`
	// BytesResumed is the number of blob bytes taken from partial
	// downloads an earlier attempt or process kept, instead of fetching
	// them again (README "Resume").
	BytesResumed int64 `json:"bytesResumed,omitempty"`
	// BytesDiscarded is the number of bytes fetched again and thrown away
	// because a registry ignored a ranged request; they are counted in
	// BytesFetched too.
	BytesDiscarded int64 `json:"bytesDiscarded,omitempty"`
	// Reconnects counts the blob connections that broke or stalled and
	// were resumed within the pull.
	Reconnects int `json:"reconnects,omitempty"`
	// BytesReused is the number of blob bytes not fetched because the store
	// had them: the sizes of the reused blobs, plus, for each layer pulled
	// partially, the part of its blob that local files made unnecessary
	// (its size minus the bytes fetched; bootc's bytes_cached). For a
	// complete pull without resumes or waste, BytesFetched + BytesReused
	// is the size of the image's blobs, when the manifest states every size.
	BytesReused int64 `json:"bytesReused"`
	// BlobsFetched counts the blobs (layers and config) copied.
	BlobsFetched int `json:"blobsFetched"`
	// BlobsReused counts the blobs found in the store and not fetched.
	BlobsReused int `json:"blobsReused"`
	// BlobsPartial counts the blobs of BlobsFetched that were fetched
	// partially, some of their files found in the store.
	BlobsPartial int `json:"blobsPartial,omitempty"`
	// Path says which path stored the pull's images: PathFast (the
	// engine's own single-pass layer staging, README "Fast path"),
	// PathCopy (containers/image's copy.Image), PathMixed when a pull of
	// several images used both, empty when nothing was copied.
	Path string `json:"path,omitempty"`
}

// The values of Transfer.Path.
const (
	PathFast  = "fast"
	PathCopy  = "copy"
	PathMixed = "mixed"
)

// transferCounter is a progress sink that sums blob events and passes every
// event on to the caller's sink.
type transferCounter struct {
	next progress.Sink
	mu   sync.Mutex
	t    Transfer
	// resumed is the offset each blob's transfer resumed at (its last
	// BlobResumed: one at 0 says a bad partial was dropped), counted as
	// BytesResumed when the blob is done.
	resumed map[digest.Digest]int64
}

// Emit counts ev and forwards it.
func (c *transferCounter) Emit(ev progress.Event) {
	c.mu.Lock()
	switch ev.Kind {
	case progress.BlobDone:
		c.t.BlobsFetched++
		c.t.BytesFetched += ev.Current - c.resumed[ev.Digest]
		c.t.BytesResumed += c.resumed[ev.Digest]
		delete(c.resumed, ev.Digest)
		if cached := ev.Cached(); cached > 0 {
			c.t.BlobsPartial++
			c.t.BytesReused += cached
		}
	case progress.BlobResumed:
		if c.resumed == nil {
			c.resumed = map[digest.Digest]int64{}
		}
		c.resumed[ev.Digest] = ev.Current
	case progress.BlobReconnected:
		c.t.BytesFetched += ev.Discarded
		c.t.BytesDiscarded += ev.Discarded
		if ev.Discarded == 0 {
			c.t.Reconnects++
		}
	case progress.BlobSkipped:
		c.t.BlobsReused++
		c.t.BytesReused += max(ev.Total, 0)
	case progress.ManifestWritten:
		c.t.Path = joinPath(c.t.Path, ev.Message)
	}
	c.mu.Unlock()
	if c.next != nil {
		c.next.Emit(ev)
	}
}

func (c *transferCounter) total() Transfer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// joinPath adds the path of one stored image (a ManifestWritten event's
// Message) to the pull's Path.
func joinPath(sofar, path string) string {
	if path != PathFast && path != PathCopy {
		return sofar
	}
	if sofar == "" || sofar == path {
		return path
	}
	return PathMixed
}
