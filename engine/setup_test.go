package engine_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

const noReexecChildEnv = "PULLENGINE_TEST_NO_REEXEC_CHILD"

// noReexecChild is a program that calls engine.New without engine.Init:
// it prints New's error and exits 0 (a panic exits 2).
func noReexecChild() int {
	dir, err := os.MkdirTemp("", "noreexec-")
	if err != nil {
		fmt.Println("tempdir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	_, err = engine.New(engine.Options{RootDir: filepath.Join(dir, "root"), RunDir: filepath.Join(dir, "run"), GraphDriver: "vfs"})
	fmt.Printf("is=%t kind=%s err=%v\n", errors.Is(err, engine.ErrReexecNotInitialized), pullerrors.Classify(err), err)
	return 0
}

// A program that did not call engine.Init gets a clear error from New, not
// a panic at the first layer write.
func TestNewWithoutInitFails(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), noReexecChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "is=true kind=internal") || !strings.Contains(string(out), "if engine.Init() { return }") {
		t.Errorf("child output %q: want ErrReexecNotInitialized with the fix in its text", out)
	}
	// This process called Init (TestMain): New works.
	enginetest.NewEngine(t)
}

// writeStorageConf points CONTAINERS_STORAGE_CONF at a storage.conf with
// the given [storage] body for this test.
func writeStorageConf(t *testing.T, body string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "storage.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", path)
}

// With RootDir, storage.conf's driver, driver options, pull_options,
// additional image stores and run root still apply, as with podman --root.
func TestRootDirKeepsStorageConf(t *testing.T) {
	dir := t.TempDir()
	extra := filepath.Join(dir, "extra-store")
	runRoot := filepath.Join(dir, "conf-run")
	writeStorageConf(t, fmt.Sprintf(`[storage]
driver = "vfs"
graphroot = %q
runroot = %q
[storage.options]
additionalimagestores = [%q]
pull_options = {enable_partial_images = "false", use_hard_links = "false"}
[storage.options.vfs]
ignore_chown_errors = "true"
`, filepath.Join(dir, "conf-root"), runRoot, extra))
	root := filepath.Join(dir, "root")
	e := enginetest.NewEngine(t, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.RootDir, o.RunDir, o.GraphDriver, o.GraphDriverOptions = root, "", "", nil
	}))
	s := e.Store()
	if s.GraphRoot() != root || s.RunRoot() != runRoot || s.GraphDriverName() != "vfs" {
		t.Errorf("store root %s, run root %s, driver %s; want %s, %s (storage.conf's), vfs (storage.conf's)", s.GraphRoot(), s.RunRoot(), s.GraphDriverName(), root, runRoot)
	}
	opts := s.GraphOptions()
	for _, want := range []string{"vfs.ignore_chown_errors=true", "imagestore=" + extra} {
		if !slices.Contains(opts, want) {
			t.Errorf("driver options %q lack storage.conf's %q", opts, want)
		}
	}
	if po := s.PullOptions(); po["use_hard_links"] != "false" {
		t.Errorf("pull options %v lack storage.conf's pull_options", po)
	}
}

// A driver other than the one the store already uses is an error, not a
// second empty store beside the first; the same driver is fine.
func TestDriverMismatchIsAnError(t *testing.T) {
	writeStorageConf(t, "[storage]\n")
	opts := enginetest.NewEngineOptions(t, enginetest.WithDriver("vfs")) // a vfs store, whatever the kit's default
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pull(context.Background(), "oci-archive:../testdata/hello.oci.tar", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	overlay := opts
	overlay.GraphDriver, overlay.GraphDriverOptions = "overlay", nil
	_, err = engine.New(overlay)
	if pullerrors.Classify(err) != pullerrors.InvalidArgument || err == nil || !strings.Contains(err.Error(), "holds images of the vfs driver") {
		t.Fatalf("New with overlay over a vfs store: %v; want an invalid-argument error naming vfs", err)
	}
	if _, err := os.Stat(filepath.Join(opts.RootDir, "overlay-layers")); !os.IsNotExist(err) {
		t.Errorf("an overlay store was started beside the vfs one (stat: %v)", err)
	}

	// storage.conf naming another driver is refused the same way.
	writeStorageConf(t, "[storage]\ndriver = \"overlay\"\n")
	fromConf := opts
	fromConf.GraphDriver, fromConf.GraphDriverOptions = "", nil
	if _, err := engine.New(fromConf); pullerrors.Classify(err) != pullerrors.InvalidArgument {
		t.Errorf("storage.conf overlay over a vfs store: %v; want invalid-argument", err)
	}

	e, err = engine.New(opts)
	if err != nil {
		t.Fatalf("reopening with vfs: %v", err)
	}
	e.Close()

	// No driver named anywhere: the store's own, not storage's first choice.
	writeStorageConf(t, "[storage]\n")
	e, err = engine.New(fromConf)
	if err != nil {
		t.Fatalf("reopening with no driver named: %v", err)
	}
	defer e.Close()
	if d := e.Store().GraphDriverName(); d != "vfs" {
		t.Errorf("driver %s, want the store's vfs", d)
	}
}

// REGISTRY_AUTH_FILE is the auth file when none is given, as in Podman.
func TestRegistryAuthFileEnv(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithBasicAuth("alice", canary))
	reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
	authFile := filepath.Join(t.TempDir(), "auth.json")
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte("alice:"+canary)))
	if err := os.WriteFile(authFile, []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) { o.AuthFilePath = "" }))
	res, err := e.Pull(context.Background(), reg.Host+"/private/app:v1", policy.Always, nil)
	if err != nil || res.Outcome != engine.Pulled {
		t.Fatalf("Pull with REGISTRY_AUTH_FILE = %v, %v; want pulled", res, err)
	}
}

// A short name matches a local image whose repository ends with it, as in
// libimage: "bb:1" is 127.0.0.1:PORT/team/bb:1, offline.
func TestShortNameMatchesLocalRepoSuffix(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/bb:1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	full := reg.Host + "/team/bb:1"
	pulled, err := e.Pull(ctx, full, policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.Down()
	for _, name := range []string{"bb:1", "team/bb:1", "bb@" + pulled.Images[0].Digest.String()} {
		for _, p := range []policy.Policy{policy.Never, policy.Missing} {
			res, err := e.Pull(ctx, name, p, nil)
			if err != nil {
				t.Errorf("Pull(%s, %s): %v", name, p, err)
				continue
			}
			if res.Outcome != engine.UsedLocal || res.Images[0].ID != pulled.Images[0].ID {
				t.Errorf("Pull(%s, %s) = %s %s; want used-local %s", name, p, res.Outcome, res.Images[0].ID, pulled.Images[0].ID)
			}
		}
	}
	if res, _ := e.Pull(ctx, "bb:1", policy.Never, nil); res != nil && !strings.HasSuffix(res.Reference, "/team/bb:1") {
		t.Errorf("reference %q, want the stored name %s", res.Reference, full)
	}
	for _, name := range []string{"b:1", "bb:2", "eam/bb:1"} {
		if _, err := e.Pull(ctx, name, policy.Never, nil); !errors.Is(err, pullerrors.ErrNotFound) {
			t.Errorf("Pull(%s, never) = %v; want not found", name, err)
		}
	}
}

// eventLog collects a pull's progress events.
type eventLog struct {
	mu     sync.Mutex
	events []progress.Event
}

func (l *eventLog) Emit(e progress.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) of(kind progress.EventKind) []progress.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []progress.Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// Every retry is a Retrying event before its wait, with the fixed delay
// the pull set (Podman's --retry-delay).
func TestRetryEvents(t *testing.T) {
	resp := enginetest.LoadResponse(t, filepath.Join(responsesDir, "503.http"))
	reg := enginetest.NewRegistry(t, enginetest.Respond(enginetest.Kind(enginetest.ManifestGet), 2, resp))
	reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	var log eventLog
	res, err := e.Pull(context.Background(), reg.Host+"/"+faultRepo+":"+faultTag, policy.Always,
		&engine.PullOptions{MaxRetries: ptr(3), RetryDelay: 5 * time.Millisecond, Progress: &log})
	if err != nil || res.Outcome != engine.Pulled {
		t.Fatalf("Pull = %v, %v", res, err)
	}
	retries := log.of(progress.Retrying)
	if len(retries) != 2 {
		t.Fatalf("%d Retrying events, want 2: %+v", len(retries), retries)
	}
	for i, r := range retries {
		if r.Attempt != i+1 || r.MaxAttempts != 3 || r.Delay != 5*time.Millisecond || r.ErrorKind != "unavailable" || r.Message == "" {
			t.Errorf("retry %d: %+v; want attempt %d/3 after 5ms (fixed), kind unavailable, with the error", i, r, i+1)
		}
	}
	if want := "Failed, retrying in 5ms ... (1/3). Error: "; !strings.HasPrefix(retries[0].RetryText(), want) {
		t.Errorf("RetryText %q, want prefix %q", retries[0].RetryText(), want)
	}
}

// A local fallback tells the progress sink the registry's error.
func TestLocalFallbackWarnsWithRegistryError(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ref := reg.Host + "/team/app:1"
	if _, err := e.Pull(context.Background(), ref, policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	reg.Down()
	var log eventLog
	res, err := e.Pull(context.Background(), ref, policy.Newer, &engine.PullOptions{MaxRetries: ptr(0), Progress: &log})
	if err != nil || res.Outcome != engine.LocalFallback {
		t.Fatalf("Pull = %v, %v; want local-fallback", res, err)
	}
	warnings := log.of(progress.Warning)
	if len(warnings) != 1 || !strings.Contains(warnings[0].Message, "using the local image") || !strings.Contains(warnings[0].Message, reg.Host) {
		t.Errorf("warnings %+v; want one naming the registry's error", warnings)
	}
}
