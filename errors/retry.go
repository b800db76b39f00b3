package pullerrors

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retryable reports whether retrying the operation that failed with err may
// succeed: the transient kinds Unavailable, RateLimited and Integrity (a blob
// that arrived corrupt), and a Timeout of a single request (a network
// timeout, an http.Client timeout, a registry's 408) — but not the caller's
// own deadline: an err whose chain holds context.DeadlineExceeded itself is
// not retryable, and neither is a cancellation, nor an error the engine
// marked final (the same request would fail the same way). Unauthorized,
// Denied, NotFound, InvalidReference and every other kind are never retryable.
//
// Retryable looks at err only. A retry loop must also stop when its own
// context is done, since a network timeout may be the symptom of that.
func Retryable(err error) bool {
	if err == nil || isFinal(err) {
		return false
	}
	switch Classify(err) {
	case Unavailable, RateLimited:
		return true
	case Integrity:
		return !permanentContent(err)
	case Timeout:
		return !chainHas(err, context.DeadlineExceeded)
	}
	return false
}

// permanentContent reports whether an Integrity error is about content the
// registry would send the same way again (a manifest over the size limit, a
// manifest that is not one), so retrying it only repeats the download.
func permanentContent(err error) bool {
	return walk(err, func(e error) bool {
		if branches, next := unwrap(e); branches != nil || next != nil {
			return false
		}
		msg := textHead(e)
		return strings.Contains(msg, "exceeded maximum allowed size of") || strings.Contains(msg, "unsupported schema version")
	})
}

// RetryAfterError carries the delay a registry asked for (its Retry-After
// header) with the error it came with. The engine's own registry client
// attaches it where it sees the response (tag lists, resumed blob reads); Classify looks through it (alone, with a nil Err, it
// is RateLimited) and RetryAfter finds it.
type RetryAfterError struct {
	// After is how long to wait before retrying.
	After time.Duration
	// Err is the error the delay came with, e.g. a 429 or 503 answer.
	Err error
}

// Error returns Err's message followed by the delay.
func (e *RetryAfterError) Error() string {
	after := "retry after " + e.After.String()
	if e.Err == nil {
		return "too many requests: " + after
	}
	return e.Err.Error() + " (" + after + ")"
}

// Unwrap returns Err.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// WithRetryAfter attaches a Retry-After delay to err. WithRetryAfter(nil, d)
// is a bare RateLimited error carrying d.
func WithRetryAfter(err error, after time.Duration) error {
	return &RetryAfterError{After: after, Err: err}
}

// RetryAfter returns the delay carried by the first *RetryAfterError in err's
// tree (depth first), if any.
func RetryAfter(err error) (after time.Duration, found bool) {
	// Like errors.As, but safe on broken chains (typed nil pointers).
	walk(err, func(e error) bool {
		if ra, ok := e.(*RetryAfterError); ok && ra != nil {
			after, found = ra.After, ra.After >= 0
			return true
		}
		return false
	})
	return after, found
}

// ParseRetryAfter parses a Retry-After header value (RFC 9110 §10.2.3):
// delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT",
// and the obsolete forms http.ParseTime accepts), relative to now. It reports
// false for an empty, malformed, negative or overflowing value and for a date
// that is not after now (such a header carries no delay; use the caller's
// own backoff).
func ParseRetryAfter(header string, now time.Time) (time.Duration, bool) {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(header, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(header)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, false
}
