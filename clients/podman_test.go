package clients

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// rootTags are the build tags of the parent module.
const rootTags = "containers_image_openpgp,exclude_graphdriver_btrfs"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// pullengineBinary builds the pullengine command of the parent module once.
func pullengineBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pullengine-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "pullengine")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/pullengine")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "GOFLAGS=-tags="+rootTags, "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building pullengine: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// testRegistry is go-containerregistry's in-memory registry with images.
type testRegistry struct {
	host string
}

// canary is the password of the registry's private repositories; it must
// never appear in what the server logs.
const canary = "canary-Pa55word-clients-51d0"

// newRegistry starts a registry whose repositories under private/ need
// Basic credentials alice:canary.
func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The challenge comes at the ping (/v2/), as the distribution spec
		// has it: that is where clients learn to send Basic credentials.
		private := r.URL.Path == "/v2/" || strings.HasPrefix(r.URL.Path, "/v2/private/")
		if private && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != canary {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &testRegistry{host: srv.Listener.Addr().String()}
}

// push stores a random image of the host's platform with n layers under
// repoTag and returns its ID (config digest hex), as a store names it.
func (r *testRegistry) push(t *testing.T, repoTag string, n int) string {
	t.Helper()
	img, err := random.Image(64<<10, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: canary})); err != nil {
		t.Fatal(err)
	}
	return configHex(t, img)
}

func configHex(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.Hex
}

// server is `pullengine serve` running as a process on a socket in a temp
// dir, over a throw-away store that trusts the registry.
type server struct {
	socket string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t *testing.T, reg *testRegistry) *server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pullengine serve writes layers into a store, which needs root")
	}
	bin := pullengineBinary(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := write("registries.conf", fmt.Sprintf("unqualified-search-registries = [%q]\n[[registry]]\nlocation = %q\ninsecure = true\n", reg.host, reg.host))
	pol := write("policy.json", `{"default":[{"type":"insecureAcceptAnything"}]}`)
	auth := write("auth.json", `{"auths":{}}`)
	s := &server{socket: filepath.Join(dir, "pullengine.sock"), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve", "--socket", s.socket, "--root", filepath.Join(dir, "root"),
		"--storage-driver", "vfs", "--registries-conf", conf, "--signature-policy", pol, "--authfile", auth)
	s.cmd.Env = append(os.Environ(),
		"CONTAINERS_CONF="+write("containers.conf", "[engine]\nretry_delay = \"10ms\"\n"),
		"CONTAINERS_STORAGE_CONF="+write("storage.conf", ""))
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(s.stderr, sc.Text())
			if strings.Contains(sc.Text(), "serving libpod's pull API on unix://") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		err := s.cmd.Wait()
		pw.Close()
		s.exited <- err
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			<-s.exited
		}
	})
	ctx, cancel := deadline(t)
	defer cancel()
	select {
	case <-ready:
	case err := <-s.exited:
		t.Fatalf("pullengine serve exited: %v\n%s", err, s.stderr)
	case <-ctx.Done():
		t.Fatalf("pullengine serve never got ready:\n%s", s.stderr)
	}
	return s
}

func deadline(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d)
	}
	return context.WithTimeout(context.Background(), 5*time.Minute)
}

// stop sends SIGTERM and checks a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-s.exited; err != nil {
		t.Errorf("pullengine serve: %v\n%s", err, s.stderr)
	}
	if _, err := os.Stat(s.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket outlived the server: %v", err)
	}
}

// Podman's Go bindings v5.8.0 connect (versioned _ping) and pull through
// the server: image IDs on success, an *errorhandling.ErrorModel with the
// exact status before streaming, the stream text on the progress writer.
func TestGoBindings(t *testing.T) {
	reg := newRegistry(t)
	id := reg.push(t, "team/app:v1", 3)
	s := startServer(t, reg)

	conn, err := bindings.NewConnection(context.Background(), "unix://"+s.socket)
	if err != nil {
		t.Fatalf("bindings.NewConnection: %v\n%s", err, s.stderr)
	}

	var progress bytes.Buffer
	ids, err := images.Pull(conn, reg.host+"/team/app:v1", new(images.PullOptions).WithProgressWriter(&progress))
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("images.Pull = %v, %v; want [%s]\n%s", ids, err, id, s.stderr)
	}
	for _, want := range []string{"Trying to pull " + reg.host + "/team/app:v1", "Copying blob", "Writing manifest"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}

	// Quiet, a short name, policy newer: the same image.
	ids, err = images.Pull(conn, "team/app:v1", new(images.PullOptions).WithQuiet(true).WithPolicy("newer"))
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Errorf("quiet pull = %v, %v", ids, err)
	}

	// Not found: an ErrorModel carrying 404, not a 200 with an error line.
	_, err = images.Pull(conn, reg.host+"/team/app:v2", new(images.PullOptions).WithProgressWriter(io.Discard))
	var em *errorhandling.ErrorModel
	if !errors.As(err, &em) || em.ResponseCode != http.StatusNotFound || !strings.Contains(em.Message, "manifest unknown") {
		t.Errorf("missing tag: %T %v; want an ErrorModel with 404", err, err)
	}

	// A platform a single-platform image does not declare, as in
	// `podman pull --arch`: pulled with a warning in the stream, as Podman
	// does (many images declare wrong platforms).
	progress.Reset()
	ids, err = images.Pull(conn, reg.host+"/team/app:v1", new(images.PullOptions).WithArch("s390x").WithOS("linux").WithProgressWriter(&progress))
	if err != nil || len(ids) != 1 || !strings.Contains(progress.String(), "WARNING: ") || !strings.Contains(progress.String(), "s390x") {
		t.Errorf("--arch s390x: %v, %v; progress:\n%s", ids, err, progress.String())
	}

	// Credentials travel in X-Registry-Auth (single form) and are never
	// logged.
	privID := reg.push(t, "private/app:v1", 1)
	ids, err = images.Pull(conn, reg.host+"/private/app:v1", new(images.PullOptions).WithUsername("alice").WithPassword(canary).WithProgressWriter(io.Discard))
	if err != nil || len(ids) != 1 || ids[0] != privID {
		t.Errorf("pull with credentials = %v, %v", ids, err)
	}
	_, err = images.Pull(conn, reg.host+"/private/app:v1", new(images.PullOptions).WithProgressWriter(io.Discard))
	if !errors.As(err, &em) || em.ResponseCode != http.StatusUnauthorized {
		t.Errorf("pull without credentials: %T %v; want an ErrorModel with 401", err, err)
	}

	s.stop(t)
	if strings.Contains(s.stderr.String(), canary) {
		t.Errorf("the password reached the server's log:\n%s", s.stderr)
	}
}

// Debian's podman 4.3.1 in remote mode pulls through the server, when it
// is installed (apt-get install podman).
func TestPodmanRemoteCLI(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman)")
	}
	reg := newRegistry(t)
	id := reg.push(t, "team/app:v1", 2)
	s := startServer(t, reg)
	home := t.TempDir()
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(podman, append([]string{"--remote", "--url", "unix://" + s.socket}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"CONTAINERS_CONF="+filepath.Join(home, "containers.conf"))
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}
	if err := os.WriteFile(filepath.Join(home, "containers.conf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run("pull", reg.host+"/team/app:v1")
	if code != 0 || strings.TrimSpace(out) != id {
		t.Errorf("podman pull: exit %d, stdout %q, stderr %q\n%s", code, out, errOut, s.stderr)
	}
	if !strings.Contains(errOut, "Copying blob") {
		t.Errorf("podman pull showed no progress: %q", errOut)
	}
	t.Logf("podman --remote pull:\n%s%s", errOut, out)
	code, out, _ = run("pull", "-q", "team/app:v1")
	if code != 0 || strings.TrimSpace(out) != id {
		t.Errorf("podman pull -q: exit %d, %q", code, out)
	}
	code, _, errOut = run("pull", reg.host+"/team/app:v2")
	if code != 125 || !strings.Contains(errOut, "Error:") || !strings.Contains(errOut, "manifest unknown") {
		t.Errorf("podman pull of a missing tag: exit %d, stderr %q", code, errOut)
	}
	t.Logf("podman --remote pull of a missing tag: exit %d\n%s", code, errOut)
	code, out, errOut = run("version")
	if code != 0 || !strings.Contains(out, "API Version:") {
		t.Errorf("podman version: exit %d, %q, %q", code, out, errOut)
	}
	t.Logf("podman --remote version:\n%s", out)

	// --creds: podman 4.3.1 sends them in X-Registry-Auth, and also, in
	// clear, in the query string; neither is logged.
	privID := reg.push(t, "private/app:v1", 1)
	code, out, errOut = run("pull", "-q", "--creds", "alice:"+canary, reg.host+"/private/app:v1")
	if code != 0 || strings.TrimSpace(out) != privID {
		t.Errorf("podman pull --creds: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = run("pull", "-q", reg.host+"/private/app:v1")
	if code != 125 || !strings.Contains(errOut, "Error:") {
		t.Errorf("podman pull without credentials: exit %d, %q", code, errOut)
	}
	s.stop(t)
	if strings.Contains(s.stderr.String(), canary) {
		t.Errorf("the password reached the server's log:\n%s", s.stderr)
	}
}
