package progress

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/term"
)

// TerminalOptions configures [NewTerminal].
type TerminalOptions struct {
	// ForceTTY draws progress bars with ANSI escapes even when the writer
	// is not a terminal.
	ForceTTY bool
	// ForcePlain writes append-only lines even when the writer is a
	// terminal. It wins over ForceTTY.
	ForcePlain bool
	// Width is the line width of the bars when the writer is not a
	// terminal (ForceTTY); 0 means 80. On a terminal its current width is
	// used at every redraw, so a resized window is followed.
	Width int
}

// Terminal is a [Sink] for people. It has two modes, chosen by
// [NewTerminal]:
//
// On a terminal, every blob of the image being pulled gets a progress bar
// (github.com/vbauerster/mpb/v8, the library containers/image uses): short
// digest, bar, bytes done / total, rate and time left; "done" with size,
// duration and rate when complete; "Already exists" for a skipped blob.
// Lines are cut to the terminal's width, which is read again at every
// redraw. Other events print a line above the bars.
//
// Otherwise (a file, a pipe, a CI log), lines are only appended: one when a
// blob starts, one when it is done or skipped, none per byte count.
//
// Both modes end with a line that says what happened: the names pulled with
// the bytes transferred and the time the pull took, or that the local image
// was used or is up to date, or the error. A retry prints Podman's
// "Failed, retrying in ..." line. Every text printed is passed through
// [Sanitize]: what a registry or an archive says cannot drive the terminal.
// Durations and rates come from the events' Time. Write errors are
// ignored. Emit is safe for concurrent use.
type Terminal struct {
	w     io.Writer
	tty   bool
	width int

	mu    sync.Mutex
	start time.Time                  // time of the pull's first event
	bytes int64                      // bytes transferred by done blobs
	blobs map[digest.Digest]*blobRow // blobs of the current copy
	bars  *barArea                   // tty: the bars being drawn, or nil
}

// blobRow is what the renderer knows about one blob.
type blobRow struct {
	digest  digest.Digest
	config  bool
	start   time.Time // BlobStarted's time (zero if unseen)
	last    time.Time // latest event's time
	current int64
	total   int64
	state   EventKind // BlobStarted (in progress), BlobDone or BlobSkipped
}

// NewTerminal returns a [Terminal] writing to w. The bars are used when w
// is an *os.File on a terminal and $TERM is not "dumb", or when ForceTTY is
// set. A nil opts means the defaults (the zero TerminalOptions).
func NewTerminal(w io.Writer, opts *TerminalOptions) *Terminal {
	var o TerminalOptions
	if opts != nil {
		o = *opts
	}
	tty := (o.ForceTTY || isTerminal(w)) && !o.ForcePlain
	return &Terminal{w: w, tty: tty, width: o.Width, blobs: map[digest.Digest]*blobRow{}}
}

// isTerminal reports whether w is a terminal that understands ANSI escapes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// Emit renders e.
func (t *Terminal) Emit(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() {
		t.start = e.Time
	}
	if e.isBlob() {
		row := t.update(e)
		if t.tty {
			t.barsFor().update(row, e.Kind)
		} else {
			t.plainBlob(row, e.Kind)
		}
		return
	}
	lines := t.messageLines(e)
	switch e.Kind {
	case TryingCandidate, Retrying, ManifestWritten, Done, Failed:
		// The copy's bars are final (or abandoned): draw them one last
		// time, then print below them.
		t.closeBars()
	}
	switch e.Kind {
	case TryingCandidate, Retrying: // a new copy: its blobs get new lines
		clear(t.blobs)
	case Done, Failed:
		t.reset()
	}
	t.print(lines)
}

// plainBlob prints the plain mode's line for a blob event, if it has one.
func (t *Terminal) plainBlob(row *blobRow, kind EventKind) {
	switch kind {
	case BlobStarted:
		t.print([]string{row.startedText()})
	case BlobDone, BlobSkipped:
		t.print([]string{row.text()})
	}
}

// update records a blob event and returns the blob's row.
func (t *Terminal) update(e Event) *blobRow {
	row, ok := t.blobs[e.Digest]
	if !ok {
		row = &blobRow{digest: e.Digest, total: -1, state: BlobStarted}
		t.blobs[e.Digest] = row
	}
	if e.Kind == BlobStarted {
		row.start = e.Time
	}
	row.config = row.config || e.Config
	row.last = e.Time
	if e.Kind != BlobSkipped {
		row.current = e.Current
		row.total = e.Total
	}
	if e.Kind == BlobDone || e.Kind == BlobSkipped {
		row.state = e.Kind
	}
	if e.Kind == BlobDone {
		t.bytes += e.Current
	}
	return row
}

// reset forgets the pull that just ended, so the sink can render another.
func (t *Terminal) reset() {
	t.start = time.Time{}
	t.bytes = 0
	clear(t.blobs)
}

// messageLines returns the lines of a non-blob event, sanitized.
func (t *Terminal) messageLines(e Event) []string {
	var line string
	switch e.Kind {
	case Resolving, PolicyDecision:
		line = e.Message
	case TryingCandidate:
		line = "Trying to pull " + e.Ref + "..."
	case Warning:
		line = "WARNING: " + e.Message
	case Retrying:
		line = e.RetryText()
	case BlobResumed, BlobReconnected:
		line = "Blob " + shortHex(e.Digest.Encoded()) + ": " + e.Message
	case ManifestWritten:
		line = "Writing manifest to image destination"
	case Done:
		line = t.doneText(e)
	case Failed:
		line = "Error: " + e.errorText()
	}
	if line == "" {
		return nil
	}
	return []string{Sanitize(line)}
}

// print writes lines below everything written so far: above the bars while
// they are drawn, else to the writer.
func (t *Terminal) print(lines []string) {
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if t.bars != nil {
		if t.bars.printAbove(b.String()) {
			return
		}
		t.closeBars()
	}
	_, _ = io.WriteString(t.w, b.String())
}

// doneText is the last line of a successful pull. It tells what happened
// (Event.Message is the engine's outcome: pulled, up-to-date, used-local,
// local-fallback) and never claims a transfer that did not happen.
func (t *Terminal) doneText(e Event) string {
	what := strings.Join(e.ImageNames, ", ")
	if what == "" {
		what = e.Ref
	}
	if n := len(e.ImageIDs); n > 0 {
		what += " (" + shortHex(e.ImageIDs[n-1]) + ")"
	}
	took := formatDuration(e.Time.Sub(t.start))
	switch e.Message {
	case "used-local":
		return "Using local image " + what
	case "up-to-date":
		return "Image " + what + " is up to date (checked in " + took + ")"
	case "local-fallback":
		return "Using local image " + what + ": the registry could not be checked"
	}
	if t.bytes == 0 {
		return "Pulled " + what + " in " + took + ", nothing to download"
	}
	return "Pulled " + what + ": " + formatBytes(t.bytes) + " in " + took
}

// label is "Copying blob 0123456789ab" (or "config").
func (r *blobRow) label() string {
	what := "blob"
	if r.config {
		what = "config"
	}
	return "Copying " + what + " " + Sanitize(shortHex(r.digest.Encoded()))
}

// startedText is the plain mode's line for a blob that starts.
func (r *blobRow) startedText() string {
	if r.total < 0 {
		return r.label() + ": started"
	}
	return r.label() + ": started (" + formatBytes(r.total) + ")"
}

// text is the plain mode's line for the blob in its current state.
func (r *blobRow) text() string {
	return r.label() + ": " + r.status()
}

// status is what is known of the blob's transfer: "Already exists",
// "done, 3.0 MiB in 1.5s (2.0 MiB/s)", or "1.5 MiB / 3.0 MiB (2.0 MiB/s,
// 1s left)".
func (r *blobRow) status() string {
	switch r.state {
	case BlobSkipped:
		return "Already exists"
	case BlobDone:
		return "done, " + formatBytes(r.current) + r.timing(" in ")
	}
	if r.total <= 0 {
		return formatBytes(r.current) + r.timing("")
	}
	return formatBytes(r.current) + " / " + formatBytes(r.total) + r.timing("")
}

// timing is " in 1.2s (2.9 MiB/s)" (sep " in ") or " (2.9 MiB/s, 3s
// left)" (sep ""), or "" when the blob's start is unknown.
func (r *blobRow) timing(sep string) string {
	elapsed := r.last.Sub(r.start)
	if r.start.IsZero() || elapsed <= 0 {
		return ""
	}
	perSec := float64(r.current) / elapsed.Seconds()
	rate := formatBytes(int64(perSec)) + "/s"
	if sep != "" {
		return sep + formatDuration(elapsed) + " (" + rate + ")"
	}
	if r.total > r.current && perSec > 0 {
		left := time.Duration(float64(r.total-r.current) / perSec * float64(time.Second))
		return " (" + rate + ", " + formatETA(left) + " left)"
	}
	return " (" + rate + ")"
}

// formatETA rounds a remaining time to whole seconds: "3s", "1m20s".
func formatETA(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// shortHex is the first 12 characters of a hex digest or ID.
func shortHex(s string) string {
	return s[:min(len(s), 12)]
}

// formatBytes formats n with binary units: "512 B", "3.5 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	unit := ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// formatDuration rounds d for display: "350ms", "1.2s", "1m2.3s".
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
