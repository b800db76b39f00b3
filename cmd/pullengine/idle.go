package main

import (
	"net/http"
	"sync"
	"time"
)

// idleTimer ends the server after a time without requests (--time, as
// podman system service --time): the time runs while no request is being
// served, from the start or from the end of the last one.
type idleTimer struct {
	after   time.Duration
	expired chan struct{} // closed when the time ran out

	mu     sync.Mutex
	active int // requests being served
	gen    int // bumped at each change, so that a stale timer does nothing
	timer  *time.Timer
	once   sync.Once
}

// newIdleTimer starts the time; after must be positive.
func newIdleTimer(after time.Duration) *idleTimer {
	t := &idleTimer{after: after, expired: make(chan struct{})}
	t.mu.Lock()
	t.arm()
	t.mu.Unlock()
	return t
}

// arm starts a new idle period; t.mu is held.
func (t *idleTimer) arm() {
	t.gen++
	gen := t.gen
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(t.after, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.gen == gen && t.active == 0 {
			t.once.Do(func() { close(t.expired) })
		}
	})
}

// wrap counts h's requests as activity.
func (t *idleTimer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.active++
		t.gen++ // a timer firing now is stale
		t.timer.Stop()
		t.mu.Unlock()
		defer func() {
			t.mu.Lock()
			t.active--
			if t.active == 0 {
				t.arm()
			}
			t.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// stop stops the timer.
func (t *idleTimer) stop() {
	t.mu.Lock()
	t.gen++
	t.timer.Stop()
	t.mu.Unlock()
}
