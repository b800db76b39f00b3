package progress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

var resumeEvents = []Event{
	{Kind: BlobResumed, Digest: digest.FromString("a"), Current: 3 << 20, Total: 6 << 20, Message: "resumed at 3145728 bytes"},
	{Kind: BlobReconnected, Digest: digest.FromString("a"), Current: 4 << 20, Total: 6 << 20, Message: "reconnected at 4194304 bytes"},
}

// The libpod JSON lines have no resume report: existing clients see the
// same stream as without resuming.
func TestJSONLinesIgnoreResumeEvents(t *testing.T) {
	for _, pp := range []bool{false, true} {
		var buf bytes.Buffer
		j := NewJSONLines(&buf, &JSONLinesOptions{PullProgress: pp})
		for _, ev := range resumeEvents {
			j.Emit(ev)
		}
		if buf.Len() != 0 {
			t.Errorf("pullProgress=%v: lines for resume events: %q", pp, buf.String())
		}
	}
}

// The terminal says where a blob resumed.
func TestTerminalShowsResume(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, &TerminalOptions{ForcePlain: true})
	for _, ev := range resumeEvents {
		term.Emit(ev)
	}
	out := buf.String()
	for _, want := range []string{"resumed at 3145728 bytes", "reconnected at 4194304 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
}

func TestResumeKindNames(t *testing.T) {
	if BlobResumed.String() != "blob-resumed" || BlobReconnected.String() != "blob-reconnected" {
		t.Errorf("names: %s, %s", BlobResumed, BlobReconnected)
	}
}
