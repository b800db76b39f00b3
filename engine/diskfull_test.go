package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// A full disk fails the pull with kind storage (507) and leaves the store
// usable: the next pull that fits succeeds.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=6m"); err != nil {
		t.Skipf("this machine cannot mount a small tmpfs to fill (%v); the disk-full test needs root with mount rights", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })

	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "big/app:v1", enginetest.NewImage(t, enginetest.WithRandomLayer(t, 16<<20)))
	small := reg.Push(t, "small/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.RootDir, o.RunDir = filepath.Join(dir, "root"), filepath.Join(dir, "run")
		o.SystemContext.BigFilesTemporaryDir = filepath.Join(dir, "tmp")
		o.SystemContext.BlobInfoCacheDir = filepath.Join(dir, "cache")
	}))
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	_, err := e.Pull(ctx, reg.Host+"/big/app:v1", policy.Missing, nil)
	if k := pullerrors.Classify(err); k != pullerrors.Storage || pullerrors.HTTPStatus(err) != 507 {
		t.Fatalf("kind %v, status %d; want storage, 507: %v", k, pullerrors.HTTPStatus(err), err)
	}
	if pullerrors.Retryable(err) {
		t.Error("a full disk is not retryable")
	}
	if _, err := e.Pull(ctx, reg.Host+"/big/app:v1", policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("the failed pull left something under the name: %v", err)
	}
	res, err := e.Pull(ctx, reg.Host+"/small/app:v1", policy.Missing, nil)
	if err != nil || res.Images[0].ID != enginetest.ID(t, small) {
		t.Errorf("the store is not usable after the full disk: %+v, %v", res, err)
	}
}
