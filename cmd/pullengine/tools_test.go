package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pullengine/pullengine/enginetest"
)

// The progress bars in a real terminal 60 columns wide: every line fits,
// every blob has one line in its final state (no stale copies left by the
// redraw), and the pull ends with its summary.
func TestTerminalAt60Columns(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed:", err)
	}
	reg := enginetest.NewRegistry(t)
	var layers []enginetest.ImageOption
	for range 5 {
		layers = append(layers, enginetest.WithRandomLayer(t, 256<<10))
	}
	reg.PushImage(t, "team/five:1", enginetest.NewImage(t, layers...))
	s := newCLIStore(t, reg)

	dir := t.TempDir()
	script := filepath.Join(dir, "pull.sh")
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, kv := range append(os.Environ(), append(s.env, cliEnv+"=1")...) {
		if k, v, ok := strings.Cut(kv, "="); ok && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k) {
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
		}
	}
	b.WriteString("export TERM=screen\n")
	args := append([]string{os.Args[0], "pull", reg.Host + "/team/five:1"}, s.flags...)
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
	if out, err := tm("new-session", "-d", "-x", "60", "-y", "40", "-s", "pull", "sh "+script); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = tm("kill-server") })

	var screen string
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(screen, "EXIT=") {
		if time.Now().After(deadline) {
			t.Fatalf("the pull did not finish; screen:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond) // polling the screen, not timing the pull
		// -J joins lines the terminal wrapped: a line over 60 columns shows.
		if screen, err = tm("capture-pane", "-p", "-J", "-t", "pull"); err != nil {
			t.Fatalf("tmux capture-pane: %v: %s", err, screen)
		}
	}
	t.Logf("screen:\n%s", screen)
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("the pull failed; screen:\n%s", screen)
	}
	seen := map[string]int{}
	for _, l := range lines {
		l = strings.TrimRight(l, " ")
		if n := utf8.RuneCountInString(l); n > 60 && strings.HasPrefix(l, "Copying ") {
			t.Errorf("a bar line of %d columns on a 60-column terminal: %q", n, l)
		}
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "Copying" {
			seen[f[1]+" "+f[2]]++
		}
	}
	blobs, configs := 0, 0
	for what, n := range seen {
		if n != 1 {
			t.Errorf("%s is on the screen %d times", what, n)
		}
		if strings.HasPrefix(what, "blob ") {
			blobs++
		} else {
			configs++
		}
	}
	if blobs != 5 || configs != 1 {
		t.Errorf("%d blob lines and %d config lines, want 5 and 1", blobs, configs)
	}
	if !strings.Contains(screen, "Pulled "+reg.Host+"/team/five:1") || len(lines) > 15 {
		t.Errorf("want the summary and at most 15 lines; screen:\n%s", screen)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "Copying blob") && !strings.Contains(l, "done") {
			t.Errorf("a blob line not in its final state: %q", l)
		}
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
