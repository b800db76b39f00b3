package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// A retry is a libpod stream line in Podman's words, and the copy's
// "Copying blob" lines are written again for the new attempt.
func TestJSONLinesRetrying(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONLines(&buf, nil)
	for _, e := range []Event{
		{Kind: TryingCandidate, Ref: "r/x:1"},
		{Kind: BlobStarted, Digest: layerDigest, Total: 10},
		{Kind: Retrying, Attempt: 1, MaxAttempts: 3, Delay: 2 * time.Second, Message: "received unexpected HTTP status: 503"},
		{Kind: BlobStarted, Digest: layerDigest, Total: 10},
		{Kind: Failed, Err: errors.New("x")},
	} {
		j.Emit(e)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := `{"status":"pulling","stream":"Failed, retrying in 2s ... (1/3). Error: received unexpected HTTP status: 503\n"}`
	if lines[3] != want {
		t.Errorf("retry line %s, want %s", lines[3], want)
	}
	if !strings.Contains(lines[5], "Copying blob") || !strings.Contains(lines[4], "Getting image source signatures") {
		t.Errorf("the new attempt's lines: %q", lines[4:])
	}
	if Retrying.String() != "retrying" {
		t.Errorf("Retrying.String() = %q", Retrying.String())
	}
}
