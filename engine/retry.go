package engine

import (
	"context"
	"math/rand/v2"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
)

const (
	defaultRetryDelay = time.Second
	maxRetryDelay     = 30 * time.Second
)

// retry runs op, and again after a backoff while it fails with a transient
// error (pullerrors.Retryable), at most MaxRetries more times. The delay
// doubles from RetryDelay with up to 10% jitter, capped at 30s; a
// Retry-After the registry sent is honoured when longer. The context bounds
// it all.
func (e *Engine) retry(ctx context.Context, o *PullOptions, op func() error) error {
	max := e.conf.retries
	if o.MaxRetries != nil {
		max = *o.MaxRetries
	}
	delay := o.RetryDelay
	if delay == 0 {
		delay = e.conf.retryDelay
	}
	if delay == 0 {
		delay = defaultRetryDelay
	}
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || attempt >= max || !pullerrors.Retryable(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff(delay, attempt)
		if after, ok := pullerrors.RetryAfter(err); ok && after > wait {
			wait = after
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err // waiting would outlive the caller's deadline
		}
		e.log.InfoContext(ctx, "retrying after a transient error", "attempt", attempt+1, "max", max, "delay", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is delay·2^attempt plus up to 10% jitter, capped.
func backoff(delay time.Duration, attempt int) time.Duration {
	d := delay << min(attempt, 16)
	if d <= 0 || d > maxRetryDelay {
		d = maxRetryDelay
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}
