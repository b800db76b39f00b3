package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pullengine/pullengine/enginetest"
)

// tmuxPull runs the CLI's pull of ref in a detached tmux session of the
// given width, and returns a function that runs tmux commands against it.
// The session's shell prints EXIT=<code> when the pull ends.
func tmuxPull(t *testing.T, s cliStore, ref string, width int, extra ...string) func(args ...string) (string, error) {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed:", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "pull.sh")
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, kv := range append(os.Environ(), append(s.env, cliEnv+"=1")...) {
		if k, v, ok := strings.Cut(kv, "="); ok && envName.MatchString(k) {
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
		}
	}
	b.WriteString("export TERM=screen\n")
	args := append(append([]string{os.Args[0], "pull", ref}, s.flags...), extra...)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	b.WriteString(strings.Join(args, " ") + "\necho EXIT=$?\nread wait\n")
	if err := os.WriteFile(script, []byte(b.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := tm("new-session", "-d", "-x", strconv.Itoa(width), "-y", "40", "-s", "pull", "sh "+script); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = tm("kill-server") })
	return tm
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// awaitScreen polls the session's screen until done says it is complete
// (bounded to two minutes) and returns it. -J joins the lines the terminal
// wrapped, so a line wider than the terminal shows as such.
func awaitScreen(t *testing.T, tm func(args ...string) (string, error), done func(screen string) bool) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		screen, err := tm("capture-pane", "-p", "-J", "-t", "pull")
		if err != nil {
			t.Fatalf("tmux capture-pane: %v: %s", err, screen)
		}
		if done(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting; screen:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond) // polling the screen, not timing the pull
	}
}

func finished(screen string) bool { return strings.Contains(screen, "EXIT=") }

// barLines returns the screen's blob and config lines, trailing blanks cut.
func barLines(screen string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(l, "Copying ") {
			out = append(out, strings.TrimRight(l, " "))
		}
	}
	return out
}

// checkBars checks the final bar lines: each at most width columns, each
// blob once, in its final state, blobs blob lines and one config line.
func checkBars(t *testing.T, screen string, width, blobs int) {
	t.Helper()
	seen := map[string]int{}
	nBlobs, nConfigs := 0, 0
	for _, l := range barLines(screen) {
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("a bar line of %d columns on a %d-column terminal: %q", n, width, l)
		}
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		if seen[f[1]+" "+f[2]]++; seen[f[1]+" "+f[2]] == 1 {
			if f[1] == "blob" {
				nBlobs++
			} else {
				nConfigs++
			}
		}
		if !strings.Contains(l, "done") {
			t.Errorf("a line not in its final state: %q", l)
		}
	}
	for what, n := range seen {
		if n != 1 {
			t.Errorf("%s is on the screen %d times", what, n)
		}
	}
	if nBlobs != blobs || nConfigs != 1 {
		t.Errorf("%d blob lines and %d config lines, want %d and 1; screen:\n%s", nBlobs, nConfigs, blobs, screen)
	}
}

// The progress bars in a real terminal 60 columns wide: every line fits,
// every blob has one line in its final state (no stale copies left by the
// redraw), and the pull ends with its summary.
func TestTerminalAt60Columns(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	var layers []enginetest.ImageOption
	for range 5 {
		layers = append(layers, enginetest.WithRandomLayer(t, 256<<10))
	}
	reg.PushImage(t, "team/five:1", enginetest.NewImage(t, layers...))
	tm := tmuxPull(t, newCLIStore(t, reg), reg.Host+"/team/five:1", 60)
	screen := awaitScreen(t, tm, finished)
	t.Logf("screen:\n%s", screen)
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("the pull failed; screen:\n%s", screen)
	}
	checkBars(t, screen, 60, 5)
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	if !strings.Contains(screen, "Pulled "+reg.Host+"/team/five:1") || len(lines) > 15 {
		t.Errorf("want the summary and at most 15 lines; screen:\n%s", screen)
	}
}

// halfThenWait serves blob GETs over 64 KiB in two halves: the second once
// release is closed. The bars are then on the screen, in flight, for as
// long as the test needs.
func halfThenWait(release <-chan struct{}) enginetest.RegistryOption {
	return enginetest.Intercept(enginetest.Kind(enginetest.BlobGet), -1, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		if len(body) > 64<<10 {
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			body = body[len(body)/2:]
		}
		_, _ = w.Write(body)
	})
}

// A terminal made narrower during the pull: the bars follow the new width
// (mpb reads it at every redraw). The frame on the screen at the moment of
// the resize may stay behind, re-wrapped by the terminal (as with podman):
// the test asserts the bars drawn after it.
func TestTerminalResize(t *testing.T) {
	release := make(chan struct{})
	reg := enginetest.NewRegistry(t, halfThenWait(release))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	reg.PushImage(t, "team/three:1", enginetest.NewImage(t,
		enginetest.WithRandomLayer(t, 256<<10), enginetest.WithRandomLayer(t, 256<<10), enginetest.WithRandomLayer(t, 256<<10)))
	tm := tmuxPull(t, newCLIStore(t, reg), reg.Host+"/team/three:1", 100)
	awaitScreen(t, tm, func(screen string) bool { return len(barLines(screen)) >= 3 || finished(screen) })
	if out, err := tm("resize-window", "-t", "pull", "-x", "50", "-y", "40"); err != nil {
		t.Fatalf("tmux resize-window: %v: %s", err, out)
	}
	// The last three bar lines are the live frame: wait until it is drawn
	// at the new width, while the transfer is still held.
	narrow := awaitScreen(t, tm, func(screen string) bool {
		bars := barLines(screen)
		if finished(screen) || len(bars) < 3 {
			return finished(screen)
		}
		for _, l := range bars[len(bars)-3:] {
			if utf8.RuneCountInString(l) > 50 {
				return false
			}
		}
		return true
	})
	if finished(narrow) {
		t.Fatalf("the pull ended before the bars were redrawn at 50 columns:\n%s", narrow)
	}
	t.Logf("after the resize:\n%s", narrow)
	close(release)
	screen := awaitScreen(t, tm, finished)
	t.Logf("screen:\n%s", screen)
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("the pull failed; screen:\n%s", screen)
	}
	var done []string
	for _, l := range barLines(screen) {
		if strings.Contains(l, " done") {
			done = append(done, l)
		}
	}
	checkBars(t, strings.Join(done, "\n"), 50, 3)
}

// --creds USER asks for the password on the terminal, without echo.
func TestCredsPromptOnTerminal(t *testing.T) {
	const password = "s3cret-Pa55"
	reg := enginetest.NewRegistry(t, enginetest.WithBasicAuth("alice", password))
	reg.Push(t, "private/app:1", enginetest.Files{"a": "1"})
	tm := tmuxPull(t, newCLIStore(t, reg), reg.Host+"/private/app:1", 80, "--creds", "alice")
	awaitScreen(t, tm, func(screen string) bool { return strings.Contains(screen, "Password:") || finished(screen) })
	if out, err := tm("send-keys", "-t", "pull", password, "Enter"); err != nil {
		t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
	screen := awaitScreen(t, tm, finished)
	if !strings.Contains(screen, "EXIT=0") || !strings.Contains(screen, "pulled ") {
		t.Errorf("the pull with the password typed failed:\n%s", screen)
	}
	if strings.Contains(screen, password) {
		t.Errorf("the password was echoed:\n%s", screen)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// storage.conf plus --root, as podman does it: the driver and the run root
// come from storage.conf, and podman --root reads what was pulled. A driver
// that differs from the store's is refused.
func TestPodmanReadsStoreWithRoot(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed:", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	body := fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n", filepath.Join(dir, "run"), filepath.Join(dir, "default-root"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CONTAINERS_STORAGE_CONF=" + conf}
	root := filepath.Join(dir, "root")
	code, out, errOut := cli(t, env, "pull", "--root", root, "oci-archive:../../testdata/hello.oci.tar")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	id := strings.Fields(out)[2]
	for _, d := range []string{"vfs-layers", filepath.Join("..", "run", "vfs-layers")} {
		if _, err := os.Stat(filepath.Join(root, d)); err != nil {
			t.Errorf("storage.conf's driver and run root not used: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "overlay-layers")); err == nil {
		t.Error("an overlay store was created although storage.conf says vfs")
	}

	cmd := exec.Command(podman, "--root", root, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	cmd.Env = append(os.Environ(), env...)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman images: %v: %s", err, got)
	}
	if !strings.Contains(string(got), "localhost/pullengine/hello:1.0 "+id[:12]) {
		t.Errorf("podman --root sees %q, want localhost/pullengine/hello:1.0 %s", got, id[:12])
	}

	code, _, errOut = cli(t, env, "pull", "--root", root, "--storage-driver", "overlay", "localhost/pullengine/hello:1.0")
	if code != 1 || !strings.Contains(errOut, "holds images of the vfs driver") {
		t.Errorf("--storage-driver overlay on a vfs store: exit %d, %s", code, errOut)
	}
}
