package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

type recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

func (r *recorder) Emit(ev progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// kinds lists the event kinds in order, byte progress left out.
func (r *recorder) kinds() []progress.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []progress.EventKind
	for _, ev := range r.events {
		if ev.Kind != progress.BlobProgress {
			out = append(out, ev.Kind)
		}
	}
	return out
}

func TestProgressEvents(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	ref := reg.Host + "/team/app:v1"

	rec := &recorder{}
	res, err := e.Pull(ctx, ref, policy.Missing, &engine.PullOptions{Progress: rec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.BlobsFetched != 2 || res.Transfer.BytesFetched != blobBytes(t, img) || res.Transfer.BlobsReused != 0 {
		t.Errorf("transfer %+v; want 2 blobs, %d bytes", res.Transfer, blobBytes(t, img))
	}
	want := []progress.EventKind{
		progress.Resolving, progress.PolicyDecision, progress.TryingCandidate,
		progress.BlobStarted, progress.BlobDone, // the layer
		progress.BlobStarted, progress.BlobDone, progress.ConfigWritten, // the config
		progress.ManifestWritten, progress.Done,
	}
	if got := rec.kinds(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	last := rec.events[len(rec.events)-1]
	if len(last.ImageIDs) != 1 || last.ImageIDs[0] != enginetest.ID(t, img) {
		t.Errorf("done event %+v lacks the image ID", last)
	}

	// Up to date: no candidate tried, no blob.
	rec = &recorder{}
	if _, err := e.Pull(ctx, ref, policy.Newer, &engine.PullOptions{Progress: rec}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.kinds(), []progress.EventKind{progress.Resolving, progress.PolicyDecision, progress.Done}; !slices.Equal(got, want) {
		t.Errorf("up to date: events %v, want %v", got, want)
	}

	// Always re-copies: the layer is reused, the config fetched.
	res, err = e.Pull(ctx, ref, policy.Always, nil)
	if err != nil || res.Transfer.BlobsReused != 1 || res.Transfer.BlobsFetched != 1 {
		t.Errorf("always again: transfer %+v, %v; want the layer reused", res.Transfer, err)
	}

	// A failure ends with a classified failed event.
	rec = &recorder{}
	_, err = e.Pull(ctx, reg.Host+"/team/missing:v1", policy.Missing, &engine.PullOptions{Progress: rec})
	if err == nil {
		t.Fatal("pulled a missing image")
	}
	last = rec.events[len(rec.events)-1]
	if last.Kind != progress.Failed || last.ErrorKind != pullerrors.NotFound.String() || last.ErrorStatus != 404 {
		t.Errorf("last event %+v; want failed, not-found, 404", last)
	}
}

// A sink that blocks does not stall the transfer: the image is copied and
// stored while the sink is stuck on the first event; Pull returns once the
// sink has seen everything, the byte events coalesced.
func TestBlockingSinkDoesNotStallThePull(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 2<<20), enginetest.WithRandomLayer(t, 1<<20))
	reg.PushImage(t, "team/app:v1", img)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ref := reg.Host + "/team/app:v1"

	release := make(chan struct{})
	rec := &recorder{}
	sink := progress.SinkFunc(func(ev progress.Event) {
		<-release
		rec.Emit(ev)
	})
	done := make(chan error, 1)
	go func() {
		_, err := e.Pull(context.Background(), ref, policy.Always, &engine.PullOptions{Progress: sink})
		done <- err
	}()
	waitFor(t, "the image to be stored while the sink is blocked", func() bool {
		_, err := e.Store().Image(ref)
		return err == nil
	})
	if n := len(rec.kinds()); n != 0 {
		t.Fatalf("the sink received %d events while blocked", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rec.kinds()
	if got[0] != progress.Resolving || got[len(got)-1] != progress.Done {
		t.Errorf("events %v: want Resolving first and Done last", got)
	}
	if n := blobEvents(rec, progress.BlobDone); n != 3 {
		t.Errorf("%d blob-done events, want 3 (two layers, the config)", n)
	}
}

func blobEvents(r *recorder, k progress.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}
