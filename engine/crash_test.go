package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// crashChildEnv, when set, makes the test binary a child that pulls the
// references in crashRefEnv (comma-separated) with the engine.Options
// (JSON) in the variable.
const (
	crashChildEnv = "PULLENGINE_CRASH_CHILD_OPTIONS"
	crashRefEnv   = "PULLENGINE_CRASH_CHILD_REF"
)

// childOptions is what crosses to the child: the paths of the kit's
// engine.Options (its SystemContext cannot be marshalled whole).
type childOptions struct {
	RootDir, RunDir, GraphDriver                                string
	RegistriesConf, SignaturePolicy, AuthFile, ContainersConf   string
	RegistriesDir, AliasConf, BigFilesTemporaryDir, BlobInfoDir string
}

// startPuller starts this test binary again as a child that pulls refs
// (comma-separated) with opts, as another process would; exited receives
// the child's end.
func startPuller(t *testing.T, opts engine.Options, refs string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+encodeChildOptions(t, opts), crashRefEnv+"="+refs)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited
}

func encodeChildOptions(t *testing.T, o engine.Options) string {
	t.Helper()
	sys := o.SystemContext
	raw, err := json.Marshal(childOptions{
		o.RootDir, o.RunDir, o.GraphDriver,
		o.RegistriesConfPath, o.SignaturePolicyPath, o.AuthFilePath, o.ContainersConfPath,
		sys.RegistriesDirPath, sys.UserShortNameAliasConfPath, sys.BigFilesTemporaryDir, sys.BlobInfoCacheDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (c childOptions) engineOptions() engine.Options {
	return engine.Options{
		RootDir: c.RootDir, RunDir: c.RunDir, GraphDriver: c.GraphDriver,
		RegistriesConfPath: c.RegistriesConf, SignaturePolicyPath: c.SignaturePolicy,
		AuthFilePath: c.AuthFile, ContainersConfPath: c.ContainersConf,
		SystemContext: &types.SystemContext{
			RegistriesDirPath: c.RegistriesDir, UserShortNameAliasConfPath: c.AliasConf,
			BigFilesTemporaryDir: c.BigFilesTemporaryDir, BlobInfoCacheDir: c.BlobInfoDir,
		},
	}
}

func crashChild() int {
	var c childOptions
	if err := json.Unmarshal([]byte(os.Getenv(crashChildEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := engine.New(c.engineOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, ref := range strings.Split(os.Getenv(crashRefEnv), ",") {
		if _, err := e.Pull(context.Background(), ref, policy.Always, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// halfBlob sends half of the first big blob, then holds the response until
// released, so a client dies mid-blob.
type halfBlob struct {
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// killChild SIGKILLs the child puller holding half a blob, waits for it
// to end, then lets the registry answer in full again.
func (h *halfBlob) killChild(t *testing.T, cmd *exec.Cmd, exited chan error) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	h.armed.Store(false)
	close(h.release)
}

func (h *halfBlob) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.armed.Load() || !enginetest.Kind(enginetest.BlobGet)(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := &bufferedWriter{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if len(rec.body) < 1<<16 { // small blobs (config) pass
			copyResponse(w, rec)
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body[:len(rec.body)/2])
		_ = http.NewResponseController(w).Flush()
		h.once.Do(func() { close(h.reached) })
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	})
}

type bufferedWriter struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(s int)   { b.status = s }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func copyResponse(w http.ResponseWriter, b *bufferedWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body)
}

// A pull killed with SIGKILL in the middle of a blob leaves a store that
// opens, holds no unreadable image under the name, keeps the good image it
// had, and takes the next pull.
func TestKillMidPull(t *testing.T) {
	h := &halfBlob{reached: make(chan struct{}), release: make(chan struct{})}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(h.middleware))
	good := reg.Push(t, "team/good:v1", enginetest.Files{"good": "yes"})
	victim := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 4<<20))
	reg.PushImage(t, "team/victim:v1", victim)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	ctx := context.Background()

	seed(t, opts, reg.Host+"/team/good:v1")
	h.armed.Store(true)

	cmd, exited := startPuller(t, opts, reg.Host+"/team/victim:v1")
	select {
	case <-h.reached:
	case err := <-exited:
		t.Fatalf("the child ended before the blob was half sent: %v", err)
	}
	h.killChild(t, cmd, exited)

	e := newEngine(t, opts)
	if _, err := e.Pull(ctx, reg.Host+"/team/victim:v1", policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("after the crash, the name holds something: %v", err)
	}
	res, err := e.Pull(ctx, reg.Host+"/team/good:v1", policy.Never, nil)
	if err != nil || res.Images[0].ID != enginetest.ID(t, good) {
		t.Errorf("the good image: %+v, %v", res, err)
	}
	res, err = e.Pull(ctx, reg.Host+"/team/victim:v1", policy.Missing, nil)
	if err != nil || res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, victim) {
		t.Fatalf("the pull after the crash: %+v, %v", res, err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings after recovery: %v", res.Warnings)
	}
}
