package engine

import (
	"sync"

	"github.com/pullengine/pullengine/progress"
)

// Transfer sums up what a pull moved. Concurrent pulls of one image share
// one transfer (see Engine.Pull), and each reports the blobs it watched
// move from the moment it joined.
type Transfer struct {
	// BytesFetched is the number of blob bytes copied.
	BytesFetched int64 `json:"bytesFetched"`
	// BlobsFetched counts the blobs (layers and config) copied.
	BlobsFetched int `json:"blobsFetched"`
	// BlobsReused counts the blobs found in the store and not fetched.
	BlobsReused int `json:"blobsReused"`
}

// transferCounter is a progress sink that sums blob events and passes every
// event on to the caller's sink.
type transferCounter struct {
	next progress.Sink
	mu   sync.Mutex
	t    Transfer
}

// Emit counts ev and forwards it.
func (c *transferCounter) Emit(ev progress.Event) {
	c.mu.Lock()
	switch ev.Kind {
	case progress.BlobDone:
		c.t.BlobsFetched++
		c.t.BytesFetched += ev.Current
	case progress.BlobSkipped:
		c.t.BlobsReused++
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
