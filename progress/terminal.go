package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/term"
)

// TerminalOptions configures [NewTerminal].
type TerminalOptions struct {
	// ForceTTY redraws blob lines in place with ANSI escapes even when the
	// writer is not a terminal.
	ForceTTY bool
	// ForcePlain writes append-only lines even when the writer is a
	// terminal. It wins over ForceTTY.
	ForcePlain bool
}

// Terminal is a [Sink] for people. It has two modes, chosen by
// [NewTerminal]:
//
// On a terminal, every blob of the image being pulled gets one line, redrawn
// in place with ANSI escapes: short digest, a bar, bytes done / total and the
// rate; "done" with size, duration and rate when complete; "Already exists"
// for a skipped blob. Other events print a line above the blob lines.
//
// Otherwise (a file, a pipe, a CI log), lines are only appended: one when a
// blob starts, one when it is done or skipped, none per byte count.
//
// Both modes end with a summary: the pulled names, the bytes transferred and
// the time the pull took. Durations and rates come from the events' Time, so
// the output depends only on the events. Write errors are ignored. Emit is
// safe for concurrent use.
type Terminal struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	start time.Time                  // time of the pull's first event
	bytes int64                      // bytes transferred by done blobs
	blobs map[digest.Digest]*blobRow // blobs of the current pull
	area  []*blobRow                 // tty: the blob lines still redrawn
	live  int                        // tty: lines of area on the screen
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

// NewTerminal returns a [Terminal] writing to w. The in-place mode is used
// when w is an *os.File on a terminal and $TERM is not "dumb", or when
// ForceTTY is set; at most one options value is used.
func NewTerminal(w io.Writer, opts ...TerminalOptions) *Terminal {
	var o TerminalOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	tty := (o.ForceTTY || isTerminal(w)) && !o.ForcePlain
	return &Terminal{w: w, tty: tty, blobs: map[digest.Digest]*blobRow{}}
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
		t.emitBlob(e)
		return
	}
	lines := t.messageLines(e)
	switch e.Kind {
	case TryingCandidate: // a new copy: its blobs get new lines
		clear(t.blobs)
	case Done, Failed:
		t.reset()
	}
	if len(lines) == 0 {
		return
	}
	if t.tty {
		// A new candidate and the end of a copy or a pull freeze the blob
		// lines; other messages print above them.
		switch e.Kind {
		case TryingCandidate, ManifestWritten, Done, Failed:
			t.redraw(lines, true)
		default:
			t.redraw(lines, false)
		}
		return
	}
	t.print(lines)
}

// emitBlob renders a blob event: a redraw of the blob lines on a terminal,
// a line on start, done or skipped otherwise.
func (t *Terminal) emitBlob(e Event) {
	row := t.update(e)
	switch {
	case t.tty:
		t.redraw(nil, false)
	case e.Kind == BlobStarted:
		t.print([]string{row.startedText()})
	case e.Kind == BlobDone || e.Kind == BlobSkipped:
		t.print([]string{row.text()})
	}
}

// update records a blob event and returns the blob's row.
func (t *Terminal) update(e Event) *blobRow {
	row, ok := t.blobs[e.Digest]
	if !ok {
		row = &blobRow{digest: e.Digest, total: -1, state: BlobStarted}
		t.blobs[e.Digest] = row
		if t.tty {
			t.area = append(t.area, row)
		}
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

// messageLines returns the lines of a non-blob event.
func (t *Terminal) messageLines(e Event) []string {
	switch e.Kind {
	case Resolving, PolicyDecision:
		if e.Message != "" {
			return []string{e.Message}
		}
	case TryingCandidate:
		return []string{"Trying to pull " + e.Ref + "..."}
	case Warning:
		return []string{"WARNING: " + e.Message}
	case BlobResumed, BlobReconnected:
		return []string{"Blob " + shortHex(e.Digest.Encoded()) + ": " + e.Message}
	case ManifestWritten:
		return []string{"Writing manifest to image destination"}
	case Done:
		return []string{t.doneText(e)}
	case Failed:
		return []string{"Pull failed after " + formatDuration(e.Time.Sub(t.start)) + ": " + e.errorText()}
	}
	return nil
}

// print writes lines in the plain mode.
func (t *Terminal) print(lines []string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	_, _ = io.WriteString(t.w, b.String())
}

// redraw updates the screen in the tty mode: it moves to the top of the
// blob lines still being redrawn and erases them; with commit, writes them
// one last time as permanent lines; writes lines; then writes the blob lines
// again. Finished blobs at the top of the area leave it, so the area stays
// small however many layers the image has.
func (t *Terminal) redraw(lines []string, commit bool) {
	var b strings.Builder
	if t.live > 0 {
		fmt.Fprintf(&b, "\x1b[%dF\x1b[J", t.live)
	}
	if commit {
		writeRows(&b, t.area)
		t.area = nil
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	writeRows(&b, t.area)
	for len(t.area) > 0 && t.area[0].state != BlobStarted {
		t.area = t.area[1:]
	}
	t.live = len(t.area)
	_, _ = io.WriteString(t.w, b.String())
}

// writeRows writes the lines of rows.
func writeRows(b *strings.Builder, rows []*blobRow) {
	for _, r := range rows {
		b.WriteString(r.text() + "\n")
	}
}

// doneText is the summary line of a successful pull.
func (t *Terminal) doneText(e Event) string {
	what := strings.Join(e.ImageNames, ", ")
	if what == "" {
		what = e.Ref
	}
	if n := len(e.ImageIDs); n > 0 {
		what += " (" + shortHex(e.ImageIDs[n-1]) + ")"
	}
	return "Pulled " + what + ": " + formatBytes(t.bytes) + " in " + formatDuration(e.Time.Sub(t.start))
}

// label is "Copying blob 0123456789ab" (or "config").
func (r *blobRow) label() string {
	what := "blob"
	if r.config {
		what = "config"
	}
	return "Copying " + what + " " + shortHex(r.digest.Encoded())
}

// startedText is the plain mode's line for a blob that starts.
func (r *blobRow) startedText() string {
	if r.total < 0 {
		return r.label() + ": started"
	}
	return r.label() + ": started (" + formatBytes(r.total) + ")"
}

// text is the blob's line in its current state.
func (r *blobRow) text() string {
	switch r.state {
	case BlobSkipped:
		return r.label() + ": Already exists"
	case BlobDone:
		return r.label() + ": done, " + formatBytes(r.current) + r.timing(" in ")
	}
	if r.total <= 0 {
		return r.label() + ": " + formatBytes(r.current) + r.timing("")
	}
	return r.label() + ": " + bar(r.current, r.total) + " " +
		formatBytes(r.current) + " / " + formatBytes(r.total) + r.timing("")
}

// timing is " in 1.2s (2.9 MiB/s)" (sep " in ") or " (2.9 MiB/s)" (sep ""),
// or "" when the blob's start is unknown.
func (r *blobRow) timing(sep string) string {
	elapsed := r.last.Sub(r.start)
	if r.start.IsZero() || elapsed <= 0 {
		return ""
	}
	rate := formatBytes(int64(float64(r.current)/elapsed.Seconds())) + "/s"
	if sep == "" {
		return " (" + rate + ")"
	}
	return sep + formatDuration(elapsed) + " (" + rate + ")"
}

// bar draws a 20-cell progress bar.
func bar(current, total int64) string {
	const width = 20
	n := int(min(max(current, 0), total) * width / total)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

// shortHex is the first 12 characters of a hex digest or ID.
func shortHex(s string) string {
	return s[:min(len(s), 12)]
}

// formatBytes formats n with binary units: "512 B", "3.5 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
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
