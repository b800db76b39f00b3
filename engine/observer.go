package engine

import "time"

// Observer is told about every Pull of an Engine, for metrics: the engine
// keeps no counters of its own and registers nothing globally. Package
// metrics has one that is a prometheus.Collector.
//
// The methods are called on the pulling goroutine, so they must be quick,
// must not block, and must be safe for concurrent use.
type Observer interface {
	// PullStarted is called when a Pull call starts.
	PullStarted()
	// PullFinished is called when that call returns, with its result
	// (nil on failure), its error and how long it took. Every PullStarted
	// is followed by one PullFinished.
	PullFinished(res *Result, err error, d time.Duration)
	// PullRetrying is called before the engine retries a copy after the
	// transient error err; a retry of a transfer that concurrent Pulls
	// share (see Engine.Pull) is told once.
	PullRetrying(err error)
}

// observeStart tells the Observer, if any, that a Pull starts, and
// returns what tells it the Pull finished.
func (e *Engine) observeStart(start time.Time) func(*Result, error) {
	if e.observer == nil {
		return func(*Result, error) {}
	}
	e.observer.PullStarted()
	return func(res *Result, err error) { e.observer.PullFinished(res, err, time.Since(start)) }
}

// observeRetry tells the Observer, if any, of a retry.
func (e *Engine) observeRetry(err error) {
	if e.observer != nil {
		e.observer.PullRetrying(err)
	}
}
