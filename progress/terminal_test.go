package progress

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	term := NewTerminal(&buf, nil)
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
	term := NewTerminal(&buf, nil)
	for _, e := range []Event{
		{Kind: Resolving, Ref: "alpine", Message: `Resolved "alpine" as an alias (x.conf)`, Time: at(0)},
		{Kind: PolicyDecision, Ref: "alpine", Message: "policy missing: not present locally, pulling", Time: at(0)},
		{Kind: TryingCandidate, Ref: "docker.io/library/alpine:latest", Time: at(0)},
		{Kind: Failed, Err: errors.New("manifest unknown"), ErrorKind: "not-found", ErrorStatus: 404, Time: at(1234)},
		// A second pull through the same sink starts from zero.
		{Kind: TryingCandidate, Ref: "b", Time: at(5000)},
		{Kind: Done, Ref: "b", Time: at(5500)},
	} {
		term.Emit(e)
	}
	want := `Resolved "alpine" as an alias (x.conf)
policy missing: not present locally, pulling
Trying to pull docker.io/library/alpine:latest...
Error: manifest unknown
Trying to pull b...
Pulled b in 500ms, nothing to download
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestTerminalTTY replays the bars' output through a small ANSI
// interpreter and checks the final screen: every blob once, in its final
// state, the messages in order, every line within the width.
func TestTerminalTTY(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, &TerminalOptions{ForceTTY: true, Width: 60})
	for _, e := range pullEvents() {
		term.Emit(e)
	}
	got := screen(t, buf.String())
	checkWidth(t, got, 60)
	checkLines(t, got, []string{
		"Trying to pull docker.io/library/alpine:latest...",
		"Copying blob bbbbbbbbbbbb * Already exists",
		"Copying blob aaaaaaaaaaaa * done, 3.0 MiB in 1.5s (2.0 MiB/s)",
		"Copying blob dddddddddddd * done, 1.0 MiB in 1s (1.0 MiB/s)",
		"Copying config cccccccccccc * done, 151 B in 100ms (1.5 KiB/s)",
		"Writing manifest to image destination",
		"Pulled docker.io/library/alpine:latest (ffffffffffff): 4.0 MiB in 2s",
	}, "WARNING: something odd")
	if !strings.Contains(buf.String(), "\x1b[") {
		t.Error("no ANSI escapes in TTY mode")
	}
}

// checkWidth fails for a bar line wider than width columns. (Message lines
// are printed whole, above the bars: the terminal may wrap them, which does
// not disturb the bars' redraw.)
func checkWidth(t *testing.T, lines []string, width int) {
	t.Helper()
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > width && strings.HasPrefix(l, "Copying ") {
			t.Errorf("line of %d columns, over %d: %q", n, width, l)
		}
	}
}

// checkLines checks that the screen is want, with extra (lines whose place
// depends on timing) somewhere. In want, " * " stands for a bar (or no bar,
// when the line is too narrow for one), and the text after it may be cut
// short with "…"; every other line must match exactly. Lines are in want's
// order, except that consecutive bar lines may come in any order among
// themselves: mpb moves a finished bar up at its next redraw, so two blobs
// that finish between two redraws are listed in its order, not theirs.
func checkLines(t *testing.T, got, want []string, extra ...string) {
	t.Helper()
	var rest []string
	for _, l := range got {
		if slices.Contains(extra, l) {
			extra = slices.DeleteFunc(extra, func(e string) bool { return e == l })
			continue
		}
		rest = append(rest, l)
	}
	if len(extra) > 0 {
		t.Errorf("lines %q not on the screen:\n%s", extra, strings.Join(got, "\n"))
	}
	if !matchLines(rest, want) {
		t.Errorf("screen\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// matchLines matches got against want, a run of consecutive bar lines as a
// set (each want line to its own got line), every other line in place.
func matchLines(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := 0; i < len(want); {
		end := i + 1
		for isBar(want[i]) && end < len(want) && isBar(want[end]) {
			end++
		}
		if !matchSet(got[i:end], want[i:end]) {
			return false
		}
		i = end
	}
	return true
}

func isBar(want string) bool { return strings.Contains(want, " * ") }

// matchSet reports whether every want line matches a different got line.
func matchSet(got, want []string) bool {
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for j, g := range got {
			if !used[j] && lineMatches(g, w) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var barPart = regexp.MustCompile(`^ *(\[[=>\- ]*\] *)?`)

func lineMatches(got, want string) bool {
	before, after, isBar := strings.Cut(want, " * ")
	if !isBar {
		return got == want
	}
	mid, ok := strings.CutPrefix(got, before)
	if !ok {
		return false
	}
	mid = barPart.ReplaceAllString(mid, "")
	if cut, ok := strings.CutSuffix(mid, "…"); ok { // cut to the width
		return strings.HasPrefix(after, cut)
	}
	return mid == after
}

// A failure leaves an unfinished bar where it stopped and prints the error
// below it; the next candidate's bars start below that.
func TestTerminalTTYFailedMidTransfer(t *testing.T) {
	var buf bytes.Buffer
	term := NewTerminal(&buf, &TerminalOptions{ForceTTY: true, Width: 100})
	term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(0)})
	term.Emit(Event{Kind: BlobProgress, Digest: layerDigest, Current: 50, Total: 100, Time: at(1000)})
	term.Emit(Event{Kind: Failed, Err: errors.New("connection reset"), Time: at(2000)})
	term.Emit(Event{Kind: TryingCandidate, Ref: "next", Time: at(3000)})
	term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(3000)})
	term.Emit(Event{Kind: BlobDone, Digest: layerDigest, Current: 100, Total: 100, Time: at(4000)})
	term.Emit(Event{Kind: Done, Ref: "next", Message: "pulled", Time: at(4000)})
	got := screen(t, buf.String())
	checkWidth(t, got, 100)
	checkLines(t, got, []string{
		"Copying blob aaaaaaaaaaaa * 50 B / 100 B (50 B/s, 1s left)",
		"Error: connection reset",
		"Trying to pull next...",
		"Copying blob aaaaaaaaaaaa * done, 100 B in 1s (100 B/s)",
		"Pulled next: 100 B in 1s",
	})
}

// Text from the outside (a registry's error, an image name) cannot drive
// the terminal: control characters and bidirectional overrides are
// dropped in both modes.
func TestTerminalStripsControlCharacters(t *testing.T) {
	hostile := "bad\x1b]0;owned\x07\x1b[2J\x1b[1A\rgone\bx\u009b31m\u202e\nnext"
	for _, tty := range []bool{false, true} {
		var buf bytes.Buffer
		term := NewTerminal(&buf, &TerminalOptions{ForceTTY: tty, ForcePlain: !tty, Width: 200})
		term.Emit(Event{Kind: TryingCandidate, Ref: "evil\x1b[2J", Time: at(0)})
		term.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 100, Time: at(0)})
		term.Emit(Event{Kind: Warning, Message: hostile, Time: at(10)})
		term.Emit(Event{Kind: Retrying, Message: hostile, Attempt: 1, MaxAttempts: 3, Delay: time.Second, Time: at(20)})
		term.Emit(Event{Kind: Failed, Err: errors.New(hostile), Time: at(30)})
		out := ansi.ReplaceAllString(buf.String(), "") // the renderer's own escapes
		for _, c := range []string{"\x1b", "\x07", "\r", "\b", "\u009b", "\u202e"} {
			if strings.Contains(out, c) {
				t.Errorf("tty=%t: %q reached the output: %q", tty, c, out)
			}
		}
		if !strings.Contains(out, "WARNING: bad]0;owned[2J[1Agonex31m next") {
			t.Errorf("tty=%t: the text itself should survive, without its controls: %q", tty, out)
		}
	}
}

var ansi = regexp.MustCompile(`\x1b\[(\d*)([A-Za-z])`)

// screen interprets the subset of ANSI the renderer uses: ESC[nA (cursor
// up n lines; the renderer issues it at the start of a line) and ESC[J
// (erase to the end of the screen).
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
		case "A":
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

func TestTerminalDetection(t *testing.T) {
	var buf bytes.Buffer
	if NewTerminal(&buf, nil).tty {
		t.Error("a bytes.Buffer is not a terminal")
	}
	if !NewTerminal(&buf, &TerminalOptions{ForceTTY: true}).tty {
		t.Error("ForceTTY ignored")
	}
	if NewTerminal(&buf, &TerminalOptions{ForceTTY: true, ForcePlain: true}).tty {
		t.Error("ForcePlain does not win")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if NewTerminal(f, nil).tty {
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
