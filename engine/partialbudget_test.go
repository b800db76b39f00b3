package engine_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/policy"
)

// Partials are bounded while an Engine runs: twenty pulls cut in the
// middle of a 2 MiB layer keep at most Resume.MaxBytes of partials (the
// oldest go first), and no lock file outlives its partial.
func TestPartialBudgetWhileRunning(t *testing.T) {
	const budget = 4 << 20
	// Each blob's first GET is cut at 1 MiB; later GETs of it fail, so
	// that neither containers/image's own reconnect nor ours completes it.
	var seen sync.Map
	first := func(r *http.Request) bool { _, dup := seen.LoadOrStore(r.URL.Path, true); return !dup }
	again := func(r *http.Request) bool { _, ok := seen.Load(r.URL.Path); return ok }
	reg := enginetest.NewRegistry(t,
		enginetest.FailWith(enginetest.And(enginetest.Kind(enginetest.BlobGet), again), -1, 503, "UNAVAILABLE", "down"),
		registryfaults.CutAt(enginetest.And(enginetest.Kind(enginetest.BlobGet), first), -1, 1<<20))
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Resume.MaxBytes = budget
	}))
	e := newEngine(t, opts)
	for i := range 20 {
		name := "team/cut" + string(rune('a'+i)) + ":v1"
		reg.PushImage(t, name, newResumeImage(t, 2<<20).img)
		_, err := e.Pull(context.Background(), reg.Host+"/"+name, policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
		if k := pullerrors.Classify(err); k != pullerrors.Unavailable {
			t.Fatalf("pull %d: kind %v, want Unavailable: %v", i, k, err)
		}
	}
	dir := filepath.Join(opts.RootDir, "resume")
	var kept int64
	for _, p := range partials(t, opts) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		kept += fi.Size()
	}
	if kept > budget || kept == 0 {
		t.Errorf("partials keep %d bytes, want 1 to %d (the budget)", kept, budget)
	}
	locks, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(locks) != len(partials(t, opts)) {
		t.Errorf("%d lock files for %d partials: the lock files of removed partials stayed", len(locks), len(partials(t, opts)))
	}
	assertNothingLeft(t, e)
}

// A partial that cannot grow (the disk is full) is not kept: after a pull
// that filled the disk, the next pull that fits succeeds.
func TestPartialDroppedWhenDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("this machine cannot mount a small tmpfs to fill (%v); the disk-full test needs root with mount rights", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })

	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "big/app:v1", enginetest.NewImage(t, enginetest.WithRandomLayer(t, 24<<20)))
	next := newResumeImage(t, 2<<20)
	reg.PushImage(t, "next/app:v1", next.img)
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.RootDir, o.RunDir = filepath.Join(dir, "root"), filepath.Join(dir, "run")
		o.SystemContext.BigFilesTemporaryDir = filepath.Join(dir, "tmp")
		o.SystemContext.BlobInfoCacheDir = filepath.Join(dir, "cache")
	}))
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, opts)
	ctx := context.Background()
	_, err := e.Pull(ctx, reg.Host+"/big/app:v1", policy.Missing, nil)
	if k := pullerrors.Classify(err); k != pullerrors.Storage || pullerrors.HTTPStatus(err) != 507 {
		t.Fatalf("kind %v, status %d; want storage, 507: %v", k, pullerrors.HTTPStatus(err), err)
	}
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("a partial that cannot grow was kept: %v", p)
	}
	res, err := e.Pull(ctx, reg.Host+"/next/app:v1", policy.Missing, nil)
	if err != nil {
		t.Fatalf("the pull after the full disk: %v", err)
	}
	if res.Images[0].ID != enginetest.ID(t, next.img) {
		t.Errorf("pulled %s", res.Images[0].ID)
	}
}
