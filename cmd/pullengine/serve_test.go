package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// watchWriter collects what serve writes and tells when a line holding a
// given text appears.
type watchWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	waits []watch
}

type watch struct {
	text string
	ch   chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	kept := w.waits[:0]
	for _, wt := range w.waits {
		if strings.Contains(w.buf.String(), wt.text) {
			close(wt.ch)
		} else {
			kept = append(kept, wt)
		}
	}
	w.waits = kept
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// await waits until text has been written, bounded by the test deadline.
func (w *watchWriter) await(t *testing.T, text string) {
	t.Helper()
	w.mu.Lock()
	ch := make(chan struct{})
	if strings.Contains(w.buf.String(), text) {
		close(ch)
	} else {
		w.waits = append(w.waits, watch{text, ch})
	}
	w.mu.Unlock()
	ctx, cancel := deadlineContext(t)
	defer cancel()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("serve never wrote %q; it wrote:\n%s", text, w.String())
	}
}

func deadlineContext(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// held parks registry requests for blobs until released.
type held struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *held) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			select {
			case h.arrived <- struct{}{}:
			default:
			}
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (h *held) Release() { h.once.Do(func() { close(h.release) }) }

// server is `pullengine serve` running in-process on a temp socket.
type server struct {
	socket string
	stderr *watchWriter
	stop   context.CancelFunc
	code   chan int
	client *http.Client
}

func startServe(t *testing.T, reg *enginetest.Registry, extra ...string) *server {
	t.Helper()
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	s := &server{socket: filepath.Join(t.TempDir(), "pe.sock"), stderr: &watchWriter{}, code: make(chan int, 1)}
	args := append([]string{
		"--socket", s.socket, "--root", o.RootDir, "--runroot", o.RunDir, "--storage-driver", "vfs",
		"--registries-conf", o.RegistriesConfPath, "--signature-policy", o.SignaturePolicyPath, "--authfile", o.AuthFilePath,
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.code <- serve(ctx, args, io.Discard, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-s.code
	})
	s.stderr.await(t, "serving libpod's pull API on unix://"+s.socket)
	s.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", s.socket)
		},
	}}
	return s
}

// pull posts a pull over the socket and returns the status and the lines.
func (s *server) pull(t *testing.T, ref string) (int, []map[string]any) {
	t.Helper()
	resp, err := s.client.Post("http://d/v5.8.0/libpod/images/pull?reference="+ref, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return resp.StatusCode, lines
}

func TestServe(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	s := startServe(t, reg)

	fi, err := os.Stat(s.socket)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v: want a socket with mode 0600", fi, err)
	}
	// The socket was linked into place from a temporary name, gone now.
	if entries, err := os.ReadDir(filepath.Dir(s.socket)); err != nil || len(entries) != 1 {
		t.Errorf("the socket's directory holds %v (%v); want the socket only", entries, err)
	}
	resp, err := s.client.Get("http://d/v5.8.0/libpod/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Libpod-API-Version") == "" {
		t.Errorf("_ping: %d %v", resp.StatusCode, resp.Header)
	}

	status, lines := s.pull(t, reg.Host+"/team/app:v1")
	if status != 200 || len(lines) == 0 || lines[len(lines)-1]["status"] != "success" || lines[len(lines)-1]["id"] != enginetest.ID(t, img) {
		t.Fatalf("pull: %d %v", status, lines)
	}
	status, _ = s.pull(t, reg.Host+"/team/app:v2")
	if status != 404 {
		t.Errorf("missing tag: %d, want 404", status)
	}
	if !strings.Contains(s.stderr.String(), "msg=pull") {
		t.Errorf("no pull logged:\n%s", s.stderr)
	}

	// A second server on the same socket is refused.
	var errOut bytes.Buffer
	if code := serve(context.Background(), []string{"--socket", s.socket}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "another server is listening") {
		t.Errorf("second server: exit %d, %s", code, errOut.String())
	}

	s.stop()
	if code := <-s.code; code != 0 {
		t.Errorf("exit %d after the signal:\n%s", code, s.stderr)
	}
	s.code <- 0 // for the cleanup
	if _, err := os.Stat(s.socket); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after shutdown: %v", err)
	}
}

// SIGTERM lets a pull in flight finish.
func TestServeShutdownFinishesPulls(t *testing.T) {
	h := &held{arrived: make(chan struct{}, 8), release: make(chan struct{})}
	defer h.Release()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(h.middleware))
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	s := startServe(t, reg, "--shutdown-timeout", "1h")

	type result struct {
		status int
		lines  []map[string]any
	}
	got := make(chan result, 1)
	go func() {
		status, lines := s.pull(t, reg.Host+"/team/app:v1")
		got <- result{status, lines}
	}()
	<-h.arrived // the pull is in flight
	s.stop()    // the signal
	s.stderr.await(t, "shutting down")
	h.Release()
	r := <-got
	if r.status != 200 || len(r.lines) == 0 || r.lines[len(r.lines)-1]["status"] != "success" {
		t.Errorf("the pull in flight: %d %v", r.status, r.lines)
	}
	if code := <-s.code; code != 0 {
		t.Errorf("exit %d", code)
	}
	s.code <- 0
}

// A pull that outlives the grace period is canceled, and its client told.
func TestServeShutdownCancelsPulls(t *testing.T) {
	h := &held{arrived: make(chan struct{}, 8), release: make(chan struct{})}
	defer h.Release()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(h.middleware))
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	s := startServe(t, reg, "--shutdown-timeout", "1ms")

	type result struct {
		status int
		lines  []map[string]any
	}
	got := make(chan result, 1)
	go func() {
		resp, err := s.client.Post("http://d/v5.8.0/libpod/images/pull?reference="+reg.Host+"/team/app:v1", "", nil)
		if err != nil {
			got <- result{status: -1}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		got <- result{resp.StatusCode, []map[string]any{m}}
	}()
	<-h.arrived
	s.stop()
	r := <-got
	if r.status != 503 || r.lines[0]["response"] != float64(503) || !strings.Contains(r.lines[0]["message"].(string), "canceled") {
		t.Errorf("the canceled pull: %d %v; want 503 saying canceled", r.status, r.lines)
	}
	if code := <-s.code; code != 0 {
		t.Errorf("exit %d", code)
	}
	s.code <- 0
	if !strings.Contains(s.stderr.String(), "canceling the pulls in flight") {
		t.Errorf("stderr:\n%s", s.stderr)
	}
}

func TestServeFlags(t *testing.T) {
	var errOut bytes.Buffer
	if code := serve(context.Background(), []string{"--socket", "/x", "--listen", "127.0.0.1:0"}, io.Discard, &errOut); code != 2 {
		t.Errorf("--socket with --listen: exit %d", code)
	}
	errOut.Reset()
	notSocket := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := serve(context.Background(), []string{"--socket", notSocket}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "is not a socket") {
		t.Errorf("a file in the way: exit %d, %s", code, errOut.String())
	}
}
