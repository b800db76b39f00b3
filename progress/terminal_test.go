package progress

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

var t0 = time.Date(2026, 3, 24, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

const mib = 1 << 20

var (
	skippedDigest = digest.Digest("sha256:" + strings.Repeat("b", 64))
	secondDigest  = digest.Digest("sha256:" + strings.Repeat("d", 64))
)

// pullEvents is a pull with a skipped layer, two layers transferred at the
// same time, a warning in the middle, the config and the manifest.
func pullEvents() []Event {
	return []Event{
		{Kind: Resolving, Ref: "alpine", Time: at(0)},
		{Kind: TryingCandidate, Ref: "docker.io/library/alpine:latest", Time: at(0)},
		{Kind: BlobSkipped, Digest: skippedDigest, Total: 10, Time: at(100)},
		{Kind: BlobStarted, Digest: layerDigest, Total: 3 * mib, Time: at(200)},
		{Kind: BlobStarted, Digest: secondDigest, Total: -1, Time: at(200)},
		{Kind: BlobProgress, Digest: layerDigest, Current: 3 * mib / 2, Total: 3 * mib, Time: at(950)},
		{Kind: BlobProgress, Digest: secondDigest, Current: 512 * 1024, Total: -1, Time: at(1200)},
		{Kind: Warning, Message: "something odd", Time: at(1300)},
		{Kind: BlobDone, Digest: layerDigest, Current: 3 * mib, Total: 3 * mib, Time: at(1700)},
		{Kind: BlobDone, Digest: secondDigest, Current: mib, Total: -1, Time: at(1200)},
		{Kind: BlobStarted, Digest: configDigest, Config: true, Total: 151, Time: at(1800)},
		{Kind: BlobDone, Digest: configDigest, Config: true, Current: 151, Total: 151, Time: at(1900)},
		{Kind: ConfigWritten, Digest: configDigest, Config: true, Current: 151, Total: 151, Time: at(1900)},
		{Kind: ManifestWritten, Time: at(1950)},
		{Kind: Done, ImageIDs: []string{imageID}, ImageNames: []string{"docker.io/library/alpine:latest"}, Time: at(2000)},
	}
}

func TestTerminalPlain(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf)
	for _, e := range pullEvents() {
		term.Emit(e)
	}
	want := `Trying to pull docker.io/library/alpine:latest...
Copying blob bbbbbbbbbbbb: Already exists
Copying blob aaaaaaaaaaaa: started (3.0 MiB)
Copying blob dddddddddddd: started
WARNING: something odd
Copying blob aaaaaaaaaaaa: done, 3.0 MiB in 1.5s (2.0 MiB/s)
Copying blob dddddddddddd: done, 1.0 MiB in 1s (1.0 MiB/s)
Copying config cccccccccccc: started (151 B)
Copying config cccccccccccc: done, 151 B in 100ms (1.5 KiB/s)
Writing manifest to image destination
Pulled docker.io/library/alpine:latest (ffffffffffff): 4.0 MiB in 2s
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTerminalPlainFailedAndMessages(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf)
	for _, e := range []Event{
		{Kind: Resolving, Ref: "alpine", Message: `Resolved "alpine" as an alias (x.conf)`, Time: at(0)},
		{Kind: PolicyDecision, Ref: "alpine", Message: "policy missing: not present locally, pulling", Time: at(0)},
		{Kind: TryingCandidate, Ref: "docker.io/library/alpine:latest", Time: at(0)},
		{Kind: Failed, Err: errors.New("manifest unknown"), ErrorKind: "NotFound", ErrorStatus: 404, Time: at(1234)},
		// A second pull through the same sink starts from zero.
		{Kind: TryingCandidate, Ref: "b", Time: at(5000)},
		{Kind: Done, Ref: "b", Time: at(5500)},
	} {
		term.Emit(e)
	}
	want := `Resolved "alpine" as an alias (x.conf)
policy missing: not present locally, pulling
Trying to pull docker.io/library/alpine:latest...
Pull failed after 1.2s: manifest unknown
Trying to pull b...
Pulled b: 0 B in 500ms
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestTerminalTTY replays the in-place output through a small ANSI
// interpreter and checks the screen while blobs are in flight and at the end.
func TestTerminalTTY(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, TerminalOptions{ForceTTY: true})
	events := pullEvents()
	for _, e := range events[:7] { // up to both layers' progress
		term.Emit(e)
	}
	wantMid := []string{
		"Trying to pull docker.io/library/alpine:latest...",
		"Copying blob bbbbbbbbbbbb: Already exists",
		"Copying blob aaaaaaaaaaaa: [==========          ] 1.5 MiB / 3.0 MiB (2.0 MiB/s)",
		"Copying blob dddddddddddd: 512.0 KiB (512.0 KiB/s)",
	}
	checkScreen(t, "in flight", buf.String(), wantMid)

	term.Emit(events[7]) // the warning prints above the blob lines
	checkScreen(t, "warning", buf.String(), []string{wantMid[0], wantMid[1], "WARNING: something odd", wantMid[2], wantMid[3]})

	for _, e := range events[8:] {
		term.Emit(e)
	}
	checkScreen(t, "end", buf.String(), []string{
		"Trying to pull docker.io/library/alpine:latest...",
		"Copying blob bbbbbbbbbbbb: Already exists",
		"WARNING: something odd",
		"Copying blob aaaaaaaaaaaa: done, 3.0 MiB in 1.5s (2.0 MiB/s)",
		"Copying blob dddddddddddd: done, 1.0 MiB in 1s (1.0 MiB/s)",
		"Copying config cccccccccccc: done, 151 B in 100ms (1.5 KiB/s)",
		"Writing manifest to image destination",
		"Pulled docker.io/library/alpine:latest (ffffffffffff): 4.0 MiB in 2s",
	})
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Error("no ANSI escapes in TTY mode")
	}
}

// TestTerminalTTYFailedMidTransfer: a failure freezes the blob lines as
// they are and prints below them.
func TestTerminalTTYFailedMidTransfer(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, TerminalOptions{ForceTTY: true})
	term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(0)})
	term.Emit(Event{Kind: BlobProgress, Digest: layerDigest, Current: 50, Total: 100, Time: at(1000)})
	term.Emit(Event{Kind: Failed, Err: errors.New("connection reset"), Time: at(2000)})
	term.Emit(Event{Kind: TryingCandidate, Ref: "next", Time: at(3000)})
	checkScreen(t, "failed", buf.String(), []string{
		"Copying blob aaaaaaaaaaaa: [==========          ] 50 B / 100 B (50 B/s)",
		"Pull failed after 2s: connection reset",
		"Trying to pull next...",
	})
}

// TestTerminalTTYNextCandidate: a blob the first candidate left unfinished
// gets a new line when the next candidate copies it again.
func TestTerminalTTYNextCandidate(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, TerminalOptions{ForceTTY: true})
	term.Emit(Event{Kind: TryingCandidate, Ref: "one", Time: at(0)})
	term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(0)})
	term.Emit(Event{Kind: TryingCandidate, Ref: "two", Time: at(1000)})
	term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(1000)})
	term.Emit(Event{Kind: BlobDone, Digest: layerDigest, Current: 100, Total: 100, Time: at(2000)})
	checkScreen(t, "second candidate", buf.String(), []string{
		"Trying to pull one...",
		"Copying blob aaaaaaaaaaaa: [                    ] 0 B / 100 B",
		"Trying to pull two...",
		"Copying blob aaaaaaaaaaaa: done, 100 B in 1s (100 B/s)",
	})
}

var ansi = regexp.MustCompile(`\x1b\[(\d*)([A-Za-z])`)

// screen interprets the subset of ANSI the renderer uses: ESC[nF (cursor
// up n lines, to column 0) and ESC[J (erase to the end of the screen).
func screen(t *testing.T, out string) []string {
	t.Helper()
	var lines []string
	row := 0
	write := func(text string) {
		for i, part := range strings.Split(text, "\n") {
			if i > 0 {
				row++
			}
			if part == "" {
				continue
			}
			for len(lines) <= row {
				lines = append(lines, "")
			}
			lines[row] += part
		}
	}
	for out != "" {
		loc := ansi.FindStringSubmatchIndex(out)
		if loc == nil {
			write(out)
			break
		}
		write(out[:loc[0]])
		n, _ := strconv.Atoi(out[loc[2]:loc[3]])
		switch out[loc[4]:loc[5]] {
		case "F":
			row -= n
		case "J":
			lines = lines[:min(row, len(lines))]
		default:
			t.Fatalf("unexpected escape %q", out[loc[0]:loc[1]])
		}
		out = out[loc[1]:]
	}
	return lines
}

func checkScreen(t *testing.T, when, out string, want []string) {
	t.Helper()
	got := screen(t, out)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: screen\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalDetection(t *testing.T) {
	var buf bytes.Buffer
	if NewTerminal(&buf).tty {
		t.Error("a bytes.Buffer is not a terminal")
	}
	if !NewTerminal(&buf, TerminalOptions{ForceTTY: true}).tty {
		t.Error("ForceTTY ignored")
	}
	if NewTerminal(&buf, TerminalOptions{ForceTTY: true, ForcePlain: true}).tty {
		t.Error("ForcePlain does not win")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if NewTerminal(f).tty {
		t.Error("/dev/null is not a terminal")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 3 * mib: "3.0 MiB",
		5 << 30: "5.0 GiB", 2 << 40: "2.0 TiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
