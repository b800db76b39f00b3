package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// unixClient is an HTTP client that reaches every URL through the unix
// socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

// inheritable returns a listener's socket as a file for a child process,
// and closes the listener here without removing its path.
func inheritable(t *testing.T, l net.Listener) *os.File {
	t.Helper()
	var (
		f   *os.File
		err error
	)
	switch l := l.(type) {
	case *net.UnixListener:
		l.SetUnlinkOnClose(false)
		f, err = l.File()
	case *net.TCPListener:
		f, err = l.File()
	}
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	t.Cleanup(func() { f.Close() })
	return f
}

// child is `pullengine serve` running as a process of its own.
type child struct {
	cmd    *exec.Cmd
	stderr *watchWriter
	exited chan struct{}
	err    error
}

// startChild starts cmd, with stderr watched; t.Cleanup kills it if it
// is still running.
func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{cmd: cmd, stderr: &watchWriter{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// wait waits for the child's exit, bounded by the test deadline, and
// returns its exit code.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	ctx, cancel := deadlineContext(t)
	defer cancel()
	select {
	case <-c.exited:
	case <-ctx.Done():
		t.Fatalf("serve did not exit; it wrote:\n%s", c.stderr)
	}
	if exit, ok := c.err.(*exec.ExitError); ok {
		return exit.ExitCode()
	} else if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

// activatedCommand runs the CLI as systemd would with sockets handed
// over: LISTEN_PID is the child's own pid, which only the child knows, so
// a shell sets it and execs the CLI in its place.
func activatedCommand(t *testing.T, files []*os.File, args ...string) *exec.Cmd {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set LISTEN_PID:", err)
	}
	cmd := exec.Command(sh, append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), cliEnv+"=1", fmt.Sprintf("LISTEN_FDS=%d", len(files)))
	cmd.ExtraFiles = files
	return cmd
}

// Socket activation: serve takes the unix and the TCP socket systemd
// hands over, creates none of its own, and pulls through them.
func TestServeSocketActivation(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	s := newCLIStore(t, reg)
	dir := t.TempDir()
	sock := filepath.Join(dir, "activated.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := tl.Addr().String()
	files := []*os.File{inheritable(t, ul), inheritable(t, tl)}

	// A listener of its own as well is a usage error.
	for _, extra := range [][]string{{"--socket", filepath.Join(dir, "own.sock")}, {"--listen", "127.0.0.1:0"}, {"--listen-fd", "3"}} {
		var errOut bytes.Buffer
		cmd := activatedCommand(t, files, append(append([]string{"serve"}, s.flags...), extra...)...)
		cmd.Stderr = &errOut
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(errOut.String(), "LISTEN_FDS") || !strings.Contains(errOut.String(), extra[0]+" cannot be given") {
			t.Errorf("%v with LISTEN_FDS: %v, %s; want exit 2 naming both", extra, err, errOut.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "own.sock")); !os.IsNotExist(err) {
		t.Errorf("the refused --socket was created: %v", err)
	}

	c := startChild(t, activatedCommand(t, files, append([]string{"serve"}, s.flags...)...))
	c.stderr.await(t, "serving libpod's pull API on unix://"+sock+", tcp://"+tcpAddr)
	if !strings.Contains(c.stderr.String(), "WARNING: listening on TCP "+tcpAddr) {
		t.Errorf("no warning for the TCP socket:\n%s", c.stderr)
	}
	srv := &server{socket: sock, client: unixClient(sock)}
	status, lines := srv.pull(t, reg.Host+"/team/app:v1")
	if status != 200 || len(lines) == 0 || lines[len(lines)-1]["id"] != enginetest.ID(t, img) {
		t.Fatalf("pull through the activated unix socket: %d %v", status, lines)
	}
	// TCP keeps the Host check that the unix socket ("Host: d") is
	// exempt from.
	for host, want := range map[string]int{tcpAddr: 200, "rebound.example": 403} {
		req, err := http.NewRequest(http.MethodGet, "http://"+tcpAddr+"/v5.8.0/libpod/_ping", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("_ping through the activated TCP socket with Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, c.stderr)
	}
	// The socket is systemd's: it stays.
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the activated socket is gone after the exit: %v", err)
	}
}

// bootc's shape: the run root is an inherited directory fd
// (/proc/self/fd/3), the listener an inherited socket at fd 4, the
// credentials in REGISTRY_AUTH_FILE, readiness told on NOTIFY_SOCKET, and
// --time ends the server once it is idle, with status 0.
func TestServeBootcShape(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithBasicAuth("bootc", "s3cret"))
	img := reg.Push(t, "team/os:v1", enginetest.Files{"etc/os-release": "ID=test"})
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	auth := base64.StdEncoding.EncodeToString([]byte("bootc:s3cret"))
	if err := os.WriteFile(authFile, []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(o.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	runDir, err := os.Open(o.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	defer runDir.Close()
	sock := filepath.Join(dir, "bootc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	notifySock := filepath.Join(dir, "notify.sock")
	notifications, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifySock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notifications.Close()

	cmd := cliCommand(t, []string{"REGISTRY_AUTH_FILE=" + authFile, "NOTIFY_SOCKET=" + notifySock},
		"serve", "--listen-fd", "4", "--time", "1", "--root", o.RootDir, "--runroot", "/proc/self/fd/3", "--storage-driver", "vfs",
		"--registries-conf", o.RegistriesConfPath, "--signature-policy", o.SignaturePolicyPath)
	cmd.ExtraFiles = []*os.File{runDir, inheritable(t, l)}
	c := startChild(t, cmd)

	if got := readNotification(t, notifications); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1; serve wrote:\n%s", got, c.stderr)
	}
	srv := &server{socket: sock, client: unixClient(sock)}
	status, lines := srv.pull(t, reg.Host+"/team/os:v1")
	if status != 200 || len(lines) == 0 || lines[len(lines)-1]["id"] != enginetest.ID(t, img) {
		t.Fatalf("pull with REGISTRY_AUTH_FILE's credentials: %d %v\n%s", status, lines, c.stderr)
	}
	if code := c.wait(t); code != 0 {
		t.Errorf("idle exit: status %d, want 0:\n%s", code, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "no request for 1s (--time); exiting") {
		t.Errorf("no idle exit message:\n%s", c.stderr)
	}
	if got := readNotification(t, notifications); got != "STOPPING=1" {
		t.Errorf("second notification %q, want STOPPING=1", got)
	}
	// The store's run files went to the directory fd 3 named.
	if entries, err := os.ReadDir(o.RunDir); err != nil || len(entries) == 0 {
		t.Errorf("the run root behind fd 3 is empty: %v, %v", entries, err)
	}
	if strings.Contains(c.stderr.String(), "s3cret") {
		t.Errorf("the password is in the output:\n%s", c.stderr)
	}
}

// readNotification reads one sd_notify datagram, bounded by the test
// deadline.
func readNotification(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if d, ok := t.Deadline(); ok {
		_ = c.SetReadDeadline(d)
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading NOTIFY_SOCKET: %v", err)
	}
	return string(buf[:n])
}

// --listen-fd refuses what is not a listening socket, before opening the
// store.
func TestServeListenFDErrors(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	udp, err := conn.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, c := range []struct {
		files []*os.File
		args  []string
		code  int
		want  string
	}{
		{nil, []string{"--listen-fd", "9"}, 1, "--listen-fd 9: no such open file descriptor"},
		{[]*os.File{file}, []string{"--listen-fd", "3"}, 1, "--listen-fd 3: not a socket"},
		{[]*os.File{udp}, []string{"--listen-fd", "3"}, 1, "--listen-fd 3: the socket is not listening"},
		{nil, []string{"--listen-fd", "3", "--socket", "/x"}, 2, "--socket and --listen-fd exclude each other"},
		{nil, []string{"--listen-fd", "-1"}, 2, "--listen-fd -1"},
		{nil, []string{"--time", "-1"}, 2, "--time -1"},
	} {
		var errOut bytes.Buffer
		cmd := cliCommand(t, nil, append([]string{"serve"}, c.args...)...)
		cmd.ExtraFiles, cmd.Stderr = c.files, &errOut
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}

// The store and registry flags are registered once and shared: pull and
// serve both have every one.
func TestStoreFlagsShared(t *testing.T) {
	pull := newPullFlagSet(&pullFlags{}, io.Discard)
	serve := newServeFlagSet(&serveFlags{})
	for _, name := range []string{"root", "runroot", "storage-driver", "storage-opt", "registries-conf", "signature-policy", "authfile"} {
		if pull.Lookup(name) == nil || serve.Lookup(name) == nil {
			t.Errorf("--%s: pull has it %v, serve %v", name, pull.Lookup(name) != nil, serve.Lookup(name) != nil)
		}
	}
	f, err := parseServeFlags([]string{"--storage-opt", "vfs.ignore_chown_errors=true", "--authfile", "/a.json", "--root", "/r"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := f.engineOptions()
	if len(o.GraphDriverOptions) != 1 || o.GraphDriverOptions[0] != "vfs.ignore_chown_errors=true" || o.RootDir != "/r" || f.authfile != "/a.json" {
		t.Errorf("serve's store flags: %+v, authfile %q", o, f.authfile)
	}
}

// The single-dash spellings of serve's stdlib-flag days still work, with
// a warning naming the new spelling; values are never rewritten.
func TestServeSingleDashFlags(t *testing.T) {
	var warnings bytes.Buffer
	f, err := parseServeFlags([]string{"-allow-path", "/srv/images", "-max-pulls=3", "-debug", "--socket", "-odd", "-t", "7", "-root", "/r"}, &warnings)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.allowPaths) != 1 || f.allowPaths[0] != "/srv/images" || f.maxPulls != 3 || !f.debug || f.socket != "-odd" || f.idleSeconds != 7 || f.root != "/r" {
		t.Errorf("parsed %+v", f)
	}
	for _, want := range []string{"-allow-path is deprecated", "write --allow-path", "write --max-pulls", "write --debug", "write --root"} {
		if !strings.Contains(warnings.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings.String())
		}
	}
	if strings.Contains(warnings.String(), "odd") {
		t.Errorf("a value was taken for a flag:\n%s", warnings.String())
	}
	if _, err := parseServeFlags([]string{"-bogus"}, io.Discard); err == nil {
		t.Error("-bogus parsed")
	}

	code, out, errOut := runCLI(t, "serve", "--help")
	if code != 0 || !strings.Contains(out, "Usage: pullengine serve") || !strings.Contains(out, "--listen-fd") || !strings.Contains(out, "--storage-opt") {
		t.Errorf("serve --help: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "serve", "--bogus")
	if code != 2 || !strings.Contains(errOut, "unknown flag: --bogus") || !strings.Contains(errOut, "See 'pullengine serve --help'") {
		t.Errorf("serve --bogus: exit %d, %q", code, errOut)
	}
}
