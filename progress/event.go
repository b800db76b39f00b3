// Package progress is the pull engine's event model and its renderers.
//
// The model: a pull is a stream of [Event] values. The engine reports its own
// steps (resolving a name, trying a candidate, the policy decision, warnings,
// the manifest being written, the final outcome) and c/image reports the
// transfer of every blob (started, progress, done, skipped), which the
// engine turns into events. Every event goes to one [Sink].
//
// A sink may be slow, or even block; the pull must not. The engine therefore
// never calls a sink directly: it calls a queue of its own, which delivers
// events in order from its own goroutine, coalescing intermediate
// byte-count events ([BlobProgress]) of a blob while the sink is busy. No
// other event is ever dropped.
//
// Renderers are sinks: [NewJSONLines] writes the JSON lines of Podman's
// libpod pull endpoint (existing clients parse them unchanged) and
// [NewTerminal] draws per-blob progress lines on a terminal, or plain
// append-only lines when the output is a file or a pipe.
package progress

import (
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"
)

// EventKind says what happened. Its String form is a stable lowercase word,
// suitable for logs and machine-readable output.
type EventKind int

// The event kinds, in the order they usually occur during a pull.
const (
	// Resolving: the engine is turning the user's input (Event.Ref) into
	// pull candidates. Message, if set, describes how a short name was
	// resolved (libimage's `Resolved "alpine" as an alias (...)`).
	Resolving EventKind = iota + 1
	// PolicyDecision: the pull policy decided whether to pull Event.Ref;
	// Message says what was decided and why.
	PolicyDecision
	// TryingCandidate: the engine starts pulling the candidate named
	// Event.Ref (a fully qualified name such as
	// docker.io/library/alpine:latest).
	TryingCandidate
	// BlobStarted: the transfer of blob Event.Digest started. Total is its
	// size (-1 if unknown), Config is true for the image's config blob.
	BlobStarted
	// BlobProgress: Event.Current bytes of blob Event.Digest have been
	// transferred. Intermediate BlobProgress events may be coalesced.
	BlobProgress
	// BlobDone: the transfer of blob Event.Digest completed; Current is the
	// number of bytes transferred, below Total for a layer pulled partially
	// (see Event.Cached).
	BlobDone
	// BlobSkipped: blob Event.Digest is already present at the destination
	// and is not transferred. No BlobStarted precedes it.
	BlobSkipped
	// ConfigWritten: the image's config blob Event.Digest has been stored.
	// It follows the config's BlobDone.
	ConfigWritten
	// ManifestWritten: the image's manifest has been written to the store.
	// Message names the path that stored the image: "fast" (the engine's
	// single-pass layer staging) or "copy" (containers/image's
	// copy.Image); engine.Transfer.Path sums it up.
	ManifestWritten
	// Warning: something the user should know that does not fail the pull
	// (for instance, a platform mismatch); the text is in Message.
	Warning
	// Done: the pull succeeded; ImageIDs and ImageNames list the images.
	Done
	// Failed: the pull failed; Err, ErrorKind and ErrorStatus describe why.
	Failed
	// Retrying: a copy failed with a transient error and is retried after
	// Delay: this is retry Attempt of MaxAttempts. Message is the error's
	// text (credentials redacted), ErrorKind its kind. Blob events of the
	// new attempt follow.
	Retrying
	// BlobResumed: the transfer of blob Event.Digest continues from the
	// Current bytes an earlier attempt (or process) kept; only the rest is
	// fetched. Total is the blob's size; Message says "resumed at N
	// bytes". It may come just before or after the blob's BlobStarted. A
	// BlobResumed with Current 0 says the kept bytes proved bad and were
	// dropped: the blob starts over.
	BlobResumed
	// BlobReconnected: the connection of blob Event.Digest broke or
	// stalled and a new one continues at Current bytes; or the registry
	// ignored the range asked and sent again the Discarded bytes before
	// Current, which were thrown away. Message says which.
	BlobReconnected
)

var kindNames = [...]string{
	Resolving:       "resolving",
	PolicyDecision:  "policy-decision",
	TryingCandidate: "trying-candidate",
	BlobStarted:     "blob-started",
	BlobProgress:    "blob-progress",
	BlobDone:        "blob-done",
	BlobSkipped:     "blob-skipped",
	ConfigWritten:   "config-written",
	ManifestWritten: "manifest-written",
	Warning:         "warning",
	Done:            "done",
	Failed:          "failed",
	Retrying:        "retrying",
	BlobResumed:     "blob-resumed",
	BlobReconnected: "blob-reconnected",
}

// String returns the kind's stable lowercase name, such as "blob-done", or
// "EventKind(N)" for a value that is not a known kind.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as its String form, so events marshal
// readably with encoding/json and log/slog.
func (k EventKind) MarshalText() ([]byte, error) {
	return []byte(k.String()), nil
}

// Event is one step of a pull. Which fields are set depends on Kind (see the
// EventKind constants); the others are zero.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Time is when it happened. The engine's queue sets it to the current
	// time when it is zero.
	Time time.Time

	// Ref is the image name the event is about: the user's input for
	// Resolving and PolicyDecision, the candidate's full name for
	// TryingCandidate, the name being pulled for the others when known.
	Ref string

	// Digest identifies the blob of the Blob* and ConfigWritten events.
	Digest digest.Digest
	// Config is true when the blob is the image's config rather than a
	// layer.
	Config bool
	// Current is the number of bytes of the blob transferred so far.
	Current int64
	// Total is the blob's size in bytes, or -1 when it is unknown.
	Total int64
	// Discarded is the number of bytes fetched again and thrown away
	// (BlobReconnected, when a registry ignores a range).
	Discarded int64

	// Message is human-readable text: the warning, the policy decision,
	// the short-name resolution.
	Message string

	// ImageIDs are the IDs (64 hex characters) of the images a Done pull
	// produced, in order.
	ImageIDs []string
	// ImageNames are the names of the images a Done pull produced.
	ImageNames []string

	// Err is why the pull Failed.
	Err error
	// ErrorKind is the classified kind of Err (such as "not-found"), filled
	// by the engine.
	ErrorKind string
	// ErrorStatus is the HTTP status a server should answer for Err (such
	// as 404), filled by the engine.
	ErrorStatus int

	// Attempt is the number of the retry a Retrying event announces (1 for
	// the first), MaxAttempts the number of retries allowed.
	Attempt, MaxAttempts int
	// Delay is how long the engine waits before a Retrying event's retry.
	Delay time.Duration
}

// RetryText is the line renderers print for a Retrying event, in the words
// of Podman's retry log ("Failed, retrying in 2s ... (1/3). Error: ...").
func (e Event) RetryText() string {
	return "Failed, retrying in " + e.Delay.String() + " ... (" + strconv.Itoa(e.Attempt) + "/" +
		strconv.Itoa(e.MaxAttempts) + "). Error: " + e.Message
}

// Cached is, for a BlobDone event, the number of the blob's bytes that were
// not transferred because the destination already had their content: a
// zstd:chunked layer pulled partially ends with Current (the bytes fetched)
// below Total. It is zero for other events, complete transfers and blobs of
// unknown size.
func (e Event) Cached() int64 {
	if e.Kind != BlobDone || e.Total <= 0 || e.Current >= e.Total {
		return 0
	}
	return e.Total - e.Current
}

// errorText is the text of a Failed event: Err's message, or Message when
// Err is nil.
func (e Event) errorText() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// isBlob reports whether the event is about the transfer of one blob.
func (e Event) isBlob() bool {
	switch e.Kind {
	case BlobStarted, BlobProgress, BlobDone, BlobSkipped:
		return true
	}
	return false
}

// Sink receives events. The engine never calls a sink directly; it goes
// through its queue, which calls Emit from a single goroutine, in order.
type Sink interface {
	// Emit handles one event. It may block; while it does, later events
	// wait in the engine's queue.
	Emit(Event)
}

// SinkFunc adapts a function to the [Sink] interface.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }
