package report

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/progress"
)

// recorder is a sink that records events; while gate is open (not closed)
// every Emit waits on it, and entered receives a value on each call.
type recorder struct {
	gate    chan struct{}
	entered chan struct{}

	mu  sync.Mutex
	got []progress.Event
}

func newRecorder() *recorder {
	return &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (r *recorder) Emit(e progress.Event) {
	select {
	case r.entered <- struct{}{}:
	default:
	}
	<-r.gate
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
}

func (r *recorder) events() []progress.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]progress.Event(nil), r.got...)
}

func blobDigest(i int) digest.Digest { return digest.FromString(fmt.Sprint("blob", i)) }

// emitBlob emits the life of one blob: started, n progress events, done.
func emitBlob(r *Reporter, d digest.Digest, n int) {
	r.Emit(progress.Event{Kind: progress.BlobStarted, Digest: d, Total: int64(n)})
	for i := 1; i <= n; i++ {
		r.Emit(progress.Event{Kind: progress.BlobProgress, Digest: d, Current: int64(i), Total: int64(n)})
	}
	r.Emit(progress.Event{Kind: progress.BlobDone, Digest: d, Current: int64(n), Total: int64(n)})
}

// TestReporterBlockingSink: a sink that blocks does not stall Emit; once it
// is released, every non-progress event arrives in order and each blob's
// progress is coalesced into its latest value.
func TestReporterBlockingSink(t *testing.T) {
	const blobs, steps = 50, 200
	sink := newRecorder()
	r := NewReporter(sink)

	var want []progress.Event
	r.Emit(progress.Event{Kind: progress.TryingCandidate, Ref: "example.com/a:latest"})
	want = append(want, progress.Event{Kind: progress.TryingCandidate})
	for b := range blobs {
		emitBlob(r, blobDigest(b), steps)
		r.Emit(progress.Event{Kind: progress.Warning, Message: fmt.Sprint("after ", b)})
		want = append(want,
			progress.Event{Kind: progress.BlobStarted, Digest: blobDigest(b)},
			progress.Event{Kind: progress.BlobDone, Digest: blobDigest(b)},
			progress.Event{Kind: progress.Warning, Message: fmt.Sprint("after ", b)})
	}
	r.Emit(progress.Event{Kind: progress.Done, ImageIDs: []string{"id"}})
	want = append(want, progress.Event{Kind: progress.Done})
	// All of the above returned although the sink has not returned once.

	close(sink.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := sink.events()

	var others []progress.Event
	byBlob := map[digest.Digest][]int64{}
	for _, e := range got {
		if e.Time.IsZero() {
			t.Errorf("%v: Time not set", e.Kind)
		}
		if e.Kind == progress.BlobProgress {
			byBlob[e.Digest] = append(byBlob[e.Digest], e.Current)
			continue
		}
		others = append(others, e)
	}
	if len(others) != len(want) {
		t.Fatalf("got %d non-progress events, want %d", len(others), len(want))
	}
	for i := range want {
		if others[i].Kind != want[i].Kind || others[i].Digest != want[i].Digest || others[i].Message != want[i].Message {
			t.Fatalf("event %d: got %v %s %q, want %v %s %q", i,
				others[i].Kind, others[i].Digest, others[i].Message, want[i].Kind, want[i].Digest, want[i].Message)
		}
	}
	// The sink was blocked from the first event on, so each blob's progress
	// was coalesced into one event carrying the final count.
	for b := range blobs {
		if p := byBlob[blobDigest(b)]; len(p) != 1 || p[0] != steps {
			t.Errorf("blob %d: progress delivered %v, want [%d]", b, p, steps)
		}
	}
	checkBlobOrder(t, got, steps)
}

// checkBlobOrder verifies that each blob's events arrive as started,
// non-decreasing progress ending at final, done.
// isBlob reports whether e is about the transfer of one blob.
func isBlob(e progress.Event) bool {
	switch e.Kind {
	case progress.BlobStarted, progress.BlobProgress, progress.BlobDone, progress.BlobSkipped:
		return true
	}
	return false
}

func checkBlobOrder(t *testing.T, got []progress.Event, final int64) {
	t.Helper()
	state := map[digest.Digest]progress.EventKind{}
	last := map[digest.Digest]int64{}
	for _, e := range got {
		if !isBlob(e) {
			continue
		}
		prev := state[e.Digest]
		switch e.Kind {
		case progress.BlobStarted:
			if prev != 0 {
				t.Errorf("%s: started after %v", e.Digest, prev)
			}
		case progress.BlobProgress:
			if prev != progress.BlobStarted && prev != progress.BlobProgress || e.Current < last[e.Digest] {
				t.Errorf("%s: progress %d after %v %d", e.Digest, e.Current, prev, last[e.Digest])
			}
			last[e.Digest] = e.Current
		case progress.BlobDone:
			if last[e.Digest] != final {
				t.Errorf("%s: done after progress %d, want %d", e.Digest, last[e.Digest], final)
			}
		}
		state[e.Digest] = e.Kind
	}
	for d, s := range state {
		if s != progress.BlobDone {
			t.Errorf("%s: ends in %v", d, s)
		}
	}
}

// TestReporterConcurrentEmitters: many goroutines emit while the sink is
// blocked; per blob, the order is kept and the final progress arrives.
func TestReporterConcurrentEmitters(t *testing.T) {
	const workers, perWorker, steps = 8, 10, 300
	sink := newRecorder()
	r := NewReporter(sink)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := range perWorker {
				emitBlob(r, blobDigest(w*perWorker+b), steps)
			}
		})
	}
	wg.Wait()
	close(sink.gate)
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := sink.events()
	checkBlobOrder(t, got, steps)
	if n := countKind(got, progress.BlobDone); n != workers*perWorker {
		t.Errorf("%d BlobDone events, want %d", n, workers*perWorker)
	}
}

func countKind(events []progress.Event, k progress.EventKind) int {
	n := 0
	for _, e := range events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// TestReporterDeliversWhileRunning: with a sink that keeps up, nothing is
// coalesced and the delivery goroutine restarts after going idle.
func TestReporterDeliversWhileRunning(t *testing.T) {
	got := make(chan progress.Event)
	r := NewReporter(progress.SinkFunc(func(e progress.Event) { got <- e }))
	for i := range 3 {
		r.Emit(progress.Event{Kind: progress.BlobProgress, Current: int64(i)})
		if e := <-got; e.Current != int64(i) {
			t.Fatalf("got progress %d, want %d", e.Current, i)
		}
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReporterCloseContext: when the sink is stuck, Close returns the
// context's error and the undelivered events are dropped.
func TestReporterCloseContext(t *testing.T) {
	sink := newRecorder()
	r := NewReporter(sink)
	r.Emit(progress.Event{Kind: progress.TryingCandidate})
	<-sink.entered // the first event is in the sink, which blocks
	r.Emit(progress.Event{Kind: progress.Warning})
	r.Emit(progress.Event{Kind: progress.Done})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Close(ctx); err != context.Canceled {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	r.Emit(progress.Event{Kind: progress.Failed}) // after Close: discarded
	close(sink.gate)
	if err := r.Close(context.Background()); err != nil { // waits for the goroutine
		t.Fatalf("second Close = %v", err)
	}
	if got := sink.events(); len(got) != 1 || got[0].Kind != progress.TryingCandidate {
		t.Fatalf("delivered %v, want only the in-flight event", got)
	}
}

func TestReporterEmitAfterClose(t *testing.T) {
	sink := newRecorder()
	close(sink.gate)
	r := NewReporter(sink)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Emit(progress.Event{Kind: progress.Done})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); len(got) != 0 {
		t.Fatalf("delivered %v after Close", got)
	}
}

func TestReporterKeepsTime(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := make(chan progress.Event, 1)
	r := NewReporter(progress.SinkFunc(func(e progress.Event) { got <- e }))
	r.Emit(progress.Event{Kind: progress.Done, Time: when})
	if e := <-got; !e.Time.Equal(when) {
		t.Errorf("Time = %v, want %v", e.Time, when)
	}
	_ = r.Close(context.Background())
}

// TestNilReporter: a nil Reporter discards and never panics.
func TestNilReporter(t *testing.T) {
	if NewReporter(nil) != nil {
		t.Error("NewReporter(nil) != nil")
	}
	if NewReporter(progress.SinkFunc(nil)) != nil {
		t.Error("NewReporter(SinkFunc(nil)) != nil")
	}
	var r *Reporter
	r.Emit(progress.Event{Kind: progress.Done})
	ch, stop := r.CopyProgress("x")
	if ch != nil {
		t.Error("CopyProgress on nil Reporter returned a channel")
	}
	stop()
	if err := r.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestEventKindString(t *testing.T) {
	want := map[progress.EventKind]string{
		progress.Resolving: "resolving", progress.PolicyDecision: "policy-decision", progress.TryingCandidate: "trying-candidate",
		progress.BlobStarted: "blob-started", progress.BlobProgress: "blob-progress", progress.BlobDone: "blob-done",
		progress.BlobSkipped: "blob-skipped", progress.ConfigWritten: "config-written", progress.ManifestWritten: "manifest-written",
		progress.Warning: "warning", progress.Done: "done", progress.Failed: "failed", 0: "EventKind(0)", 99: "EventKind(99)",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), s)
		}
		if b, _ := k.MarshalText(); string(b) != s {
			t.Errorf("%d.MarshalText() = %q, want %q", int(k), b, s)
		}
	}
}
