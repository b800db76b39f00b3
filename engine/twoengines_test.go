package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// Two Engines on one store in one process: closing one leaves the other
// working (containers/storage hands both the same store object).
func TestClosingOneEngineKeepsTheOther(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/a:v1", enginetest.Files{"a": "1"})
	reg.Push(t, "team/b:v1", enginetest.Files{"b": "1"})
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	first, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	second := newEngine(t, opts)
	ctx := context.Background()
	if _, err := first.Pull(ctx, reg.Host+"/team/a:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Pull(ctx, reg.Host+"/team/b:v1", policy.Missing, nil); err != nil {
		t.Fatalf("pull with the second Engine after closing the first: %v", err)
	}
	if res, err := second.Pull(ctx, reg.Host+"/team/a:v1", policy.Never, nil); err != nil || res.Outcome != engine.UsedLocal {
		t.Fatalf("the first Engine's image through the second: %+v, %v", res, err)
	}
}

// shutdownSpy is a caller's store that records Shutdown calls.
type shutdownSpy struct {
	storage.Store
	shutdowns atomic.Int32
}

func (s *shutdownSpy) Shutdown(force bool) ([]string, error) {
	s.shutdowns.Add(1)
	return s.Store.Shutdown(force)
}

// An Engine over a caller's store uses it and leaves it open on Close.
func TestCallersStoreStaysOpen(t *testing.T) {
	owner := enginetest.NewEngine(t)
	ctx := context.Background()
	if _, err := owner.Pull(ctx, "oci-archive:../testdata/hello.oci.tar", policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	spy := &shutdownSpy{Store: owner.Store()}
	opts := enginetest.NewEngineOptions(t)
	opts.Store = spy
	borrower, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if borrower.Store() != storage.Store(spy) {
		t.Fatal("the Engine did not use the store it was given")
	}
	res, err := borrower.Pull(ctx, "localhost/pullengine/hello:1.0", policy.Never, nil)
	if err != nil || res.Outcome != engine.UsedLocal {
		t.Fatalf("through the borrowed store: %+v, %v", res, err)
	}
	if err := borrower.Close(); err != nil {
		t.Fatal(err)
	}
	if n := spy.shutdowns.Load(); n != 0 {
		t.Errorf("Close shut the caller's store down %d times", n)
	}
}
