package engine_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/storage"
)

// gate holds blob GETs until released.
type gate struct {
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if enginetest.Kind(enginetest.BlobGet)(r) {
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// waitFor waits until cond holds; it fails the test after a generous
// deadline instead of asserting on time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// blobBytes is the size of img's blobs: its layers and config.
func blobBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(cfg))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		n += size
	}
	return n
}

// Sixteen concurrent pulls of one image in one Engine download it once.
func TestConcurrentPullsShareOneTransfer(t *testing.T) {
	g := newGate()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(g.middleware))
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 1<<20), enginetest.WithRandomLayer(t, 1<<19))
	reg.PushImage(t, "team/app:v1", img)
	ref := reg.Host + "/team/app:v1"
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))

	const n = 16
	var wg sync.WaitGroup
	results := make([]*engine.Result, n)
	errs := make([]error, n)
	recs := make([]*recorder, n)
	for i := range n {
		recs[i] = &recorder{}
		wg.Go(func() {
			results[i], errs[i] = e.Pull(context.Background(), ref, policy.Always, &engine.PullOptions{Progress: recs[i]})
		})
	}
	waitFor(t, "all pulls to join the transfer", func() bool { return e.FlightWaiters() == n })
	g.open()
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if results[i].Images[0].ID != enginetest.ID(t, img) {
			t.Errorf("pull %d got %s", i, results[i].Images[0].ID)
		}
		// Every caller joined before the blobs moved, so each watched them.
		if got := blobEvents(recs[i], progress.BlobDone); got != 3 {
			t.Errorf("pull %d saw %d blobs done, want 3 (two layers, the config)", i, got)
		}
	}
	if got, size := reg.Requests.BlobBytes(), blobBytes(t, img); got != size {
		t.Errorf("the registry served %d blob bytes for %d pulls; the image's blobs are %d", got, n, size)
	}
}

// A waiter that gives up leaves; the transfer goes on for the others. When
// every waiter has gone, the transfer stops and leaves no image.
func TestSharedTransferCancellation(t *testing.T) {
	g := newGate()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(g.middleware))
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := reg.Host + "/team/app:v1"
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))

	quitter, quit := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var quitErr, stayErr error
	var stayRes *engine.Result
	wg.Go(func() { _, quitErr = e.Pull(quitter, ref, policy.Always, nil) })
	wg.Go(func() { stayRes, stayErr = e.Pull(context.Background(), ref, policy.Always, nil) })
	waitFor(t, "both pulls to join", func() bool { return e.FlightWaiters() == 2 })
	quit()
	waitFor(t, "the quitter to leave", func() bool { return e.FlightWaiters() == 1 })
	g.open()
	wg.Wait()

	if !errors.Is(quitErr, pullerrors.ErrCanceled) {
		t.Errorf("the canceled pull returned %v; want canceled", quitErr)
	}
	if stayErr != nil || stayRes.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("the remaining pull: %+v, %v", stayRes, stayErr)
	}

	// Everyone leaves: nothing is stored under the name.
	g2 := newGate()
	reg2 := enginetest.NewRegistry(t, enginetest.WithMiddleware(g2.middleware))
	reg2.Push(t, "team/app:v1", enginetest.Files{"b": "2"})
	ref2 := reg2.Host + "/team/app:v1"
	e2 := enginetest.NewEngine(t, enginetest.WithRegistry(reg2))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := e2.Pull(ctx, ref2, policy.Always, nil); done <- err }()
	waitFor(t, "the pull to start", func() bool { return e2.FlightWaiters() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, pullerrors.ErrCanceled) {
		t.Errorf("canceled pull: %v", err)
	}
	// A pull arriving now starts afresh rather than joining the dying
	// transfer.
	if e2.FlightWaiters() != 0 {
		t.Errorf("%d waiters left on an abandoned transfer", e2.FlightWaiters())
	}
	g2.open()
	waitFor(t, "the transfer to stop", func() bool { return e2.FlightsRunning() == 0 })
	if _, err := e2.Pull(context.Background(), ref2, policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("after every waiter left: %v; want no image under the name", err)
	}
}
