package engine

// Retries.
//
// The engine retries a failed copy of one candidate as a whole, as libimage
// does, not single requests: containers/image builds its own http.Client for
// every registry and has no hook for a caller's transport, so no request
// passes through the engine. Below the engine, containers/image retries by
// itself:
//
//   - a 429 answer to a request without a body (every request of a pull):
//     up to 5 attempts, waiting as the Retry-After header says (seconds or
//     an HTTP date), else 2s doubling, at most 60s; the caller's context
//     ends the wait;
//   - a 401 with an insufficient_scope challenge: once, with the scope the
//     challenge names;
//   - a blob body that ends early or is reset: resumed once, after about a
//     second, with a Range request from the last byte received.
//
// Only when those fail does the error reach the engine; its headers (a
// Retry-After on a 503, or after the fifth 429) are gone by then. The
// engine honours a Retry-After only where an error carries one
// (pullerrors.RetryAfterError): the answers its own client reads (tag
// lists, resumed blob reads; internal/registryclient.ResponseError).
//
// A copy retried by the engine reuses every layer the failed attempt
// committed to the store: only what is missing is fetched again.

import (
	"context"
	"math/rand/v2"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/internal/safetext"
	"github.com/pullengine/pullengine/progress"
)

const (
	// defaultRetryDelay is the first retry's delay when neither the pull
	// nor containers.conf sets one (Podman's default).
	defaultRetryDelay = time.Second
	// maxRetryDelay caps the engine's own backoff (before jitter).
	maxRetryDelay = 30 * time.Second
	// maxRetryAfter is the longest Retry-After the engine waits for; a
	// registry that asks for more is not retried (containers/image waits
	// at most 60s too).
	maxRetryAfter = time.Minute
	// retryLogMessage is the engine's log record before each retry.
	retryLogMessage = "retrying after a transient error"
)

// retry runs op, and again while it fails with a transient error, as
// retryWait decides: at most lim.max more times (PullOptions.MaxRetries,
// else containers.conf retry), each after lim.delay (PullOptions.RetryDelay,
// else containers.conf retry_delay: a fixed delay, as Podman waits), or,
// when neither sets a delay, after 1s, 2s, 4s... (Podman's backoff); see
// retryLimits in resolveoptions.go. The context
// bounds it all: its end stops the wait, and a wait that would outlast its
// deadline is not started. Every retry is announced on rep (a Retrying
// event) before the wait.
func (e *Engine) retry(ctx context.Context, rep *report.Reporter, lim retrySettings, op func() error) error {
	maxRetries, delay, fixed := lim.max, lim.delay, lim.fixed
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || ctx.Err() != nil {
			return err
		}
		remaining, hasDeadline := time.Duration(0), false
		if deadline, ok := ctx.Deadline(); ok {
			remaining, hasDeadline = time.Until(deadline), true
		}
		wait, again := retryWait(err, attempt, maxRetries, delay, fixed, remaining, hasDeadline, jitter)
		if !again {
			return err
		}
		e.observeRetry(err)
		redacted := safetext.Clean(err.Error(), safetext.MaxErrorText) // Clean redacts
		kind := pullerrors.Classify(err).String()
		e.log.InfoContext(ctx, retryLogMessage, "attempt", attempt+1, "max", maxRetries, "delay", wait,
			"kind", kind, "err", redacted)
		rep.Emit(progress.Event{Kind: progress.Retrying, Attempt: attempt + 1, MaxAttempts: maxRetries,
			Delay: wait, Message: redacted, ErrorKind: kind})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// retryWait decides whether the attempt-th retry (0: the first) of an
// operation that failed with err is made, and after how long. It is the
// whole retry rule, without I/O:
//
//   - only transient errors are retried (pullerrors.Retryable: Unavailable,
//     RateLimited, Integrity, and a Timeout of a single request, not the
//     caller's deadline); never Unauthorized, Denied, NotFound,
//     InvalidReference or any other kind;
//   - at most maxRetries times;
//   - the wait is delay when fixed (a delay the user set), else
//     backoff(delay, attempt); the Retry-After err carries wins when it is
//     longer; a Retry-After over a minute is not waited for;
//   - with a deadline, a wait that would end after it is not started: the
//     retry could not finish in time, and the error says more than a
//     timeout would.
//
// jitter(n) returns a random value in [0, n).
func retryWait(err error, attempt, maxRetries int, delay time.Duration, fixed bool, remaining time.Duration, hasDeadline bool, jitter func(int64) int64) (time.Duration, bool) {
	if attempt >= maxRetries || !pullerrors.Retryable(err) {
		return 0, false
	}
	wait := delay
	if !fixed {
		wait = backoff(delay, attempt, jitter)
	}
	if after, ok := pullerrors.RetryAfter(err); ok {
		if after > maxRetryAfter {
			return 0, false
		}
		wait = max(wait, after)
	}
	if hasDeadline && wait >= remaining {
		return 0, false
	}
	return wait, true
}

// backoff is delay·2^attempt, capped at maxRetryDelay, plus up to 10%
// jitter (so that clients that failed together do not retry together).
func backoff(delay time.Duration, attempt int, jitter func(int64) int64) time.Duration {
	d := maxRetryDelay
	if delay > 0 && attempt < 32 && delay <= maxRetryDelay>>attempt {
		d = delay << attempt
	}
	return d + time.Duration(jitter(int64(d)/10+1))
}

// jitter is rand.Int64N: a random value in [0, n).
func jitter(n int64) int64 { return rand.Int64N(n) }
