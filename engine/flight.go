package engine

import (
	"context"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/storage"
)

// flights lets concurrent copies of the same image into the same name
// share one transfer (podman#1911: every concurrent pull of one image
// downloads it again). A caller whose context ends stops waiting without
// disturbing the others; the transfer is canceled only when nobody waits
// for it any more.
type flights struct {
	mu      sync.Mutex
	m       map[string]*flight
	running int // transfers whose goroutine has not returned
	// live holds the running transfers and when each started (teardown.go).
	live map[*flight]time.Time
	wg   sync.WaitGroup // one per running transfer
}

// flight is one shared transfer.
type flight struct {
	done    chan struct{}
	waiters int
	cancel  context.CancelFunc
	// rep receives the transfer's progress and forwards it to every
	// waiter's reporter (watchers), so each caller sees the blobs move.
	rep      *report.Reporter
	watchers map[*report.Reporter]int
	// results, valid once done is closed
	img    *storage.Image
	digest digest.Digest
	err    error
}

// do runs the transfer t once for concurrent callers with the same key
// (t.key) and gives each the result; each caller's rep receives the
// transfer's progress from the moment it joins. The transfer runs with a
// context detached from any one caller's cancellation (values are kept),
// and holds t's auth file until it ends.
func (f *flights) do(ctx context.Context, t *transferSpec, rep *report.Reporter) (*storage.Image, digest.Digest, error) {
	key := t.key()
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl, joined := f.m[key]
	if !joined {
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		fl = &flight{done: make(chan struct{}), cancel: cancel, watchers: map[*report.Reporter]int{}}
		fl.rep = report.NewReporter(progress.SinkFunc(func(ev progress.Event) { f.forward(fl, ev) }))
		f.m[key] = fl
		f.track(fl)
		t.auth.hold() // before the starter can return and release its own hold
		go f.run(runCtx, key, fl, t)
	}
	fl.waiters++
	if rep != nil {
		fl.watchers[rep]++
	}
	f.mu.Unlock()

	select {
	case <-fl.done:
		f.leave(key, fl, rep)
		return fl.img, fl.digest, fl.err
	case <-ctx.Done():
		if f.leave(key, fl, rep) {
			// This caller stopped the transfer: return once it has torn
			// down (its temporary files removed), which a canceled copy
			// does promptly.
			<-fl.done
		}
		return nil, "", ctx.Err()
	}
}

// forward hands a transfer event to every current watcher; a Reporter's
// Emit never blocks, so a slow caller's sink delays nobody.
func (f *flights) forward(fl *flight, ev progress.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for rep := range fl.watchers {
		rep.Emit(ev)
	}
}

func (f *flights) run(ctx context.Context, key string, fl *flight, t *transferSpec) {
	fl.img, fl.digest, fl.err = t.run(ctx, fl.rep)
	t.auth.release()
	// Every event of the transfer reaches the watchers before any of them
	// sees the result (and emits its own Done).
	_ = fl.rep.Close(context.Background())
	f.mu.Lock()
	f.forget(key, fl) // later callers start afresh
	f.untrack(fl)
	f.mu.Unlock()
	fl.cancel()
	close(fl.done)
	f.wg.Done()
}

// leave drops a waiter. The last one to leave an unfinished transfer
// cancels it and takes it out of the map at once, so a caller arriving
// meanwhile starts a new transfer instead of joining a dying one; leave
// then reports true.
func (f *flights) leave(key string, fl *flight, rep *report.Reporter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rep != nil {
		if fl.watchers[rep]--; fl.watchers[rep] <= 0 {
			delete(fl.watchers, rep)
		}
	}
	fl.waiters--
	if fl.waiters == 0 {
		fl.cancel()
		f.forget(key, fl)
		return true
	}
	return false
}

// forget removes fl from the map if it is still the flight for key.
// f.mu must be held.
func (f *flights) forget(key string, fl *flight) {
	if f.m[key] == fl {
		delete(f.m, key)
	}
}
