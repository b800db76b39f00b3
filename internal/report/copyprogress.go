package report

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/types"
)

// DefaultProgressInterval is the copy.Options.ProgressInterval to use with
// [Reporter.CopyProgress]; libimage uses the same. c/image sends no progress
// at all (not even start, done or skipped) when the interval is zero.
const DefaultProgressInterval = time.Second

// CopyProgress returns a channel to hand to c/image as copy.Options.Progress
// (with copy.Options.ProgressInterval > 0, see [DefaultProgressInterval]) for
// one copy.Image call, and a stop function to call after copy.Image returns.
// ref is the name being copied; it becomes the events' Ref.
//
// c/image sends on the channel from its copy goroutines and blocks until the
// send is received, so the adapter drains the channel in a goroutine of its
// own and only calls [Reporter.Emit], which never waits for the sink. The
// events are mapped as follows:
//
//	ProgressEventNewArtifact → BlobStarted  (Total = Artifact.Size, -1 if unknown)
//	ProgressEventRead        → BlobProgress (Current = Offset)
//	ProgressEventDone        → BlobDone     (Current = Offset)
//	ProgressEventSkipped     → BlobSkipped  (no BlobStarted precedes it)
//	any newer event kind     → ignored
//
// c/image reports the image's config blob like a layer (after all layers).
// The adapter recognizes it by its media type (the OCI or Docker image config
// types, or any type containing ".config."), sets Event.Config on its events
// and emits ConfigWritten right after its BlobDone.
//
// stop closes the channel, waits until every event received has been
// emitted, and is idempotent. Call it only once c/image can no longer send,
// that is after copy.Image has returned; a later send would panic. After stop
// returns, events the engine emits (ManifestWritten, Done) follow the blob
// events in order.
//
// On a nil Reporter, CopyProgress returns a nil channel (c/image then reports
// nothing) and a no-op stop.
func (r *Reporter) CopyProgress(ref string) (events chan types.ProgressProperties, stop func()) {
	if r == nil {
		return nil, func() {}
	}
	ch := make(chan types.ProgressProperties, 16)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for p := range ch {
			r.emitCopy(p, ref)
		}
	}()
	var once sync.Once
	return ch, func() {
		once.Do(func() { close(ch) })
		<-drained
	}
}

// emitCopy emits the events for one c/image progress report.
func (r *Reporter) emitCopy(p types.ProgressProperties, ref string) {
	e, ok := fromCopy(p, ref, time.Now())
	if !ok {
		return
	}
	r.Emit(e)
	if e.Kind == progress.BlobDone && e.Config {
		e.Kind = progress.ConfigWritten
		r.Emit(e)
	}
}

// copyKinds maps the c/image progress events this package knows.
var copyKinds = map[types.ProgressEvent]progress.EventKind{
	types.ProgressEventNewArtifact: progress.BlobStarted,
	types.ProgressEventRead:        progress.BlobProgress,
	types.ProgressEventDone:        progress.BlobDone,
	types.ProgressEventSkipped:     progress.BlobSkipped,
}

// fromCopy maps one c/image progress report to an Event; ok is false for
// event kinds this package does not know.
func fromCopy(p types.ProgressProperties, ref string, now time.Time) (e progress.Event, ok bool) {
	kind, ok := copyKinds[p.Event]
	if !ok {
		return progress.Event{}, false
	}
	e = progress.Event{
		Kind:   kind,
		Time:   now,
		Ref:    ref,
		Digest: p.Artifact.Digest,
		Config: isConfigMediaType(p.Artifact.MediaType),
		Total:  p.Artifact.Size,
	}
	if kind != progress.BlobSkipped {
		e.Current = clampInt64(p.Offset)
	}
	return e, true
}

// isConfigMediaType reports whether a blob of media type mt is an image
// config rather than a layer.
func isConfigMediaType(mt string) bool {
	switch mt {
	case "application/vnd.oci.image.config.v1+json",
		"application/vnd.docker.container.image.v1+json":
		return true
	}
	return strings.Contains(mt, ".config.")
}

// clampInt64 converts a byte count to int64, saturating.
func clampInt64(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}
