package report

import (
	"context"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/progress"
)

// Reporter is what the engine calls to report progress. It stands between
// the pull and a [progress.Sink] so that the sink never stalls the pull:
//
//   - Emit only appends to an in-memory queue and returns; a goroutine owned
//     by the Reporter delivers queued events to the sink one at a time, in
//     the order they were emitted.
//   - While a BlobProgress event of a blob waits in the queue, a newer
//     BlobProgress of the same blob replaces it (latest wins). Every other
//     event is delivered, none is dropped; the queue therefore holds at most
//     one BlobProgress per blob plus the other events, a few per blob.
//   - The delivering goroutine exists only while there is something to
//     deliver, so a Reporter that is never closed leaks nothing once the
//     sink has caught up.
//
// A nil *Reporter is valid: it discards everything. [NewReporter] returns nil
// for a nil sink, so the engine can call a Reporter unconditionally.
type Reporter struct {
	sink progress.Sink

	mu        sync.Mutex
	queue     []*queued                 // events not yet handed to the sink
	pending   map[digest.Digest]*queued // the queued progress.BlobProgress, per blob
	running   bool                      // a deliver goroutine is active
	idle      chan struct{}             // closed when that goroutine exits
	closed    bool                      // Close was called: Emit discards
	abandoned bool                      // Close gave up: drop the queue
}

// queued is one slot of the queue. A BlobProgress slot is rewritten in place
// while it waits, which is how progress events are coalesced.
type queued struct {
	ev progress.Event
}

// NewReporter returns a Reporter delivering to s, or nil (a valid Reporter
// that discards) when s is nil or a nil SinkFunc.
func NewReporter(s progress.Sink) *Reporter {
	if s == nil {
		return nil
	}
	if f, ok := s.(progress.SinkFunc); ok && f == nil {
		return nil
	}
	return &Reporter{sink: s, pending: map[digest.Digest]*queued{}}
}

// Emit queues e for delivery and returns at once; it never waits for the
// sink. A zero e.Time is set to the current time. Emit is safe for
// concurrent use. Events emitted after Close are discarded.
func (r *Reporter) Emit(e progress.Event) {
	if r == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.enqueue(e)
	if !r.running {
		r.running = true
		r.idle = make(chan struct{})
		go r.deliver()
	}
}

// enqueue adds e to the queue, coalescing it into a waiting BlobProgress of
// the same blob. Any other event about a blob ends the coalescing window of
// that blob, so a blob's events keep their order. r.mu must be held.
func (r *Reporter) enqueue(e progress.Event) {
	if e.Kind != progress.BlobProgress {
		if blobEvent(e.Kind) {
			delete(r.pending, e.Digest)
		}
		r.queue = append(r.queue, &queued{ev: e})
		return
	}
	if slot, ok := r.pending[e.Digest]; ok {
		slot.ev = e
		return
	}
	slot := &queued{ev: e}
	r.pending[e.Digest] = slot
	r.queue = append(r.queue, slot)
}

// blobEvent reports whether an event of kind k is about one blob, other
// than its byte progress: such an event ends the coalescing of the blob's
// BlobProgress events.
func blobEvent(k progress.EventKind) bool {
	switch k {
	case progress.BlobStarted, progress.BlobDone, progress.BlobSkipped, progress.ConfigWritten:
		return true
	}
	return false
}

// deliver hands queued events to the sink until the queue is empty.
func (r *Reporter) deliver() {
	for {
		e, ok := r.next()
		if !ok {
			return
		}
		r.sink.Emit(e)
	}
}

// next pops the oldest queued event. When there is none (or Close gave up)
// it marks the goroutine as gone and returns false.
func (r *Reporter) next() (progress.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.abandoned {
		r.queue = nil
		clear(r.pending)
	}
	if len(r.queue) == 0 {
		r.running = false
		close(r.idle)
		return progress.Event{}, false
	}
	slot := r.queue[0]
	r.queue[0] = nil
	r.queue = r.queue[1:]
	if slot.ev.Kind == progress.BlobProgress && r.pending[slot.ev.Digest] == slot {
		delete(r.pending, slot.ev.Digest)
	}
	return slot.ev, true
}

// Close stops accepting events and waits until every event emitted before
// it has been delivered to the sink, or until ctx is done.
//
// If the sink blocks, Close blocks too, up to ctx: when ctx is done first,
// Close returns ctx.Err(), the events not yet delivered are discarded, and
// the sink call in progress (if any) is left to return on its own; no event
// is delivered after it. Pass a context bounded by the pull's own (for an
// HTTP sink, the request's) so a stuck client cannot hold the caller.
//
// Close may be called more than once; a later call waits for the delivery
// goroutine to finish. Close on a nil Reporter returns nil.
func (r *Reporter) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	r.closed = true
	if !r.running {
		r.mu.Unlock()
		return nil
	}
	idle := r.idle
	r.mu.Unlock()

	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		select {
		case <-idle: // delivery finished at the same moment
			return nil
		default:
		}
		r.mu.Lock()
		r.abandoned = true
		r.mu.Unlock()
		return ctx.Err()
	}
}
