package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
)

func noJitter(int64) int64         { return 0 }
func maxJitter(n int64) int64      { return n - 1 }
func intPtr(n int) *int            { return &n }
func wrap(k pullerrors.Kind) error { return pullerrors.Wrap(k, errors.New("registry said no")) }

// timeoutErr is a single request's network timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		delay   time.Duration
		attempt int
		want    time.Duration // before jitter
	}{
		{10 * time.Millisecond, 0, 10 * time.Millisecond},
		{10 * time.Millisecond, 1, 20 * time.Millisecond},
		{10 * time.Millisecond, 2, 40 * time.Millisecond},
		{time.Second, 4, 16 * time.Second},
		{time.Second, 5, maxRetryDelay}, // 32s capped
		{time.Second, 62, maxRetryDelay},
		{time.Second, 1000, maxRetryDelay}, // no overflow
		{time.Minute, 0, maxRetryDelay},    // a first delay over the cap is capped
		{maxRetryDelay, 0, maxRetryDelay},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s·2^%d", tc.delay, tc.attempt), func(t *testing.T) {
			if got := backoff(tc.delay, tc.attempt, noJitter); got != tc.want {
				t.Errorf("without jitter: %s, want %s", got, tc.want)
			}
			// Jitter adds at most 10%.
			if got, limit := backoff(tc.delay, tc.attempt, maxJitter), tc.want+tc.want/10; got < tc.want || got > limit {
				t.Errorf("with the largest jitter: %s, want within [%s, %s]", got, tc.want, limit)
			}
			for range 100 {
				if got := backoff(tc.delay, tc.attempt, jitter); got < tc.want || got > tc.want+tc.want/10 {
					t.Fatalf("with random jitter: %s, outside [%s, %s]", got, tc.want, tc.want+tc.want/10)
				}
			}
		})
	}
}

func TestRetryWait(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	afterDate, ok := pullerrors.ParseRetryAfter(now.Add(5*time.Second).Format(http.TimeFormat), now)
	if !ok || afterDate != 5*time.Second {
		t.Fatalf("ParseRetryAfter(HTTP date) = %s, %t", afterDate, ok)
	}
	afterDelta, _ := pullerrors.ParseRetryAfter("3", now)

	const delay = 100 * time.Millisecond
	tests := []struct {
		name       string
		err        error
		attempt    int
		maxRetries int           // 0: 3; -1: 0
		remaining  time.Duration // 0: no deadline
		fixed      bool          // a delay the user set: no backoff
		want       time.Duration
		wantAgain  bool
	}{
		{name: "unavailable", err: wrap(pullerrors.Unavailable), want: delay, wantAgain: true},
		{name: "unavailable, third attempt", err: wrap(pullerrors.Unavailable), attempt: 2, want: 4 * delay, wantAgain: true},
		{name: "unavailable, third attempt, fixed delay (Podman's retry_delay)", err: wrap(pullerrors.Unavailable), attempt: 2, fixed: true, want: delay, wantAgain: true},
		{name: "fixed delay, Retry-After longer", err: pullerrors.WithRetryAfter(wrap(pullerrors.RateLimited), afterDelta), fixed: true, want: 3 * time.Second, wantAgain: true},
		{name: "rate limited", err: wrap(pullerrors.RateLimited), want: delay, wantAgain: true},
		{name: "blob integrity", err: fmt.Errorf("reading blob: %w", wrap(pullerrors.Integrity)), want: delay, wantAgain: true},
		{name: "a single request's timeout", err: fmt.Errorf("GET: %w", timeoutErr{}), want: delay, wantAgain: true},
		{name: "the caller's deadline", err: fmt.Errorf("GET: %w", context.DeadlineExceeded)},
		{name: "canceled", err: context.Canceled},
		{name: "unauthorized", err: wrap(pullerrors.Unauthorized)},
		{name: "denied", err: wrap(pullerrors.Denied)},
		{name: "not found", err: wrap(pullerrors.NotFound)},
		{name: "invalid reference", err: wrap(pullerrors.InvalidReference)},
		{name: "internal", err: errors.New("something odd")},
		{name: "retries used up", err: wrap(pullerrors.Unavailable), attempt: 3},
		{name: "no retries", err: wrap(pullerrors.Unavailable), maxRetries: -1},
		{name: "Retry-After in seconds, longer than the backoff", err: pullerrors.WithRetryAfter(wrap(pullerrors.RateLimited), afterDelta), want: 3 * time.Second, wantAgain: true},
		{name: "Retry-After as an HTTP date", err: pullerrors.WithRetryAfter(wrap(pullerrors.Unavailable), afterDate), want: 5 * time.Second, wantAgain: true},
		{name: "Retry-After shorter than the backoff", err: pullerrors.WithRetryAfter(wrap(pullerrors.RateLimited), time.Millisecond), want: delay, wantAgain: true},
		{name: "Retry-After over a minute", err: pullerrors.WithRetryAfter(wrap(pullerrors.RateLimited), 2*time.Minute)},
		{name: "Retry-After on an error that is not transient", err: pullerrors.WithRetryAfter(wrap(pullerrors.Denied), time.Second)},
		{name: "deadline after the wait", err: wrap(pullerrors.Unavailable), remaining: time.Second, want: delay, wantAgain: true},
		{name: "deadline before the wait", err: wrap(pullerrors.Unavailable), remaining: delay / 2},
		{name: "deadline before the Retry-After", err: pullerrors.WithRetryAfter(wrap(pullerrors.RateLimited), 10*time.Second), remaining: 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxRetries := 3
			if tc.maxRetries != 0 {
				maxRetries = max(tc.maxRetries, 0)
			}
			got, again := retryWait(tc.err, tc.attempt, maxRetries, delay, tc.fixed, tc.remaining, tc.remaining != 0, noJitter)
			if got != tc.want || again != tc.wantAgain {
				t.Errorf("retryWait(%v) = %s, %t; want %s, %t", tc.err, got, again, tc.want, tc.wantAgain)
			}
		})
	}
}

func TestRetryLimits(t *testing.T) {
	tests := []struct {
		name      string
		conf      hostConf
		opts      PullOptions
		wantMax   int
		wantDelay time.Duration
		wantFixed bool
	}{
		{"Podman's defaults: backoff from 1s", hostConf{retries: 3}, PullOptions{}, 3, time.Second, false},
		{"containers.conf retry_delay is fixed", hostConf{retries: 5, retryDelay: 250 * time.Millisecond}, PullOptions{}, 5, 250 * time.Millisecond, true},
		{"pull options win", hostConf{retries: 5, retryDelay: 250 * time.Millisecond}, PullOptions{MaxRetries: intPtr(1), RetryDelay: 2 * time.Second}, 1, 2 * time.Second, true},
		{"MaxRetries 0 means no retry", hostConf{retries: 3}, PullOptions{MaxRetries: intPtr(0)}, 0, time.Second, false},
		{"containers.conf retry = 0", hostConf{retries: 0}, PullOptions{}, 0, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotMax, gotDelay, gotFixed := retryLimits(tc.conf, &tc.opts)
			if gotMax != tc.wantMax || gotDelay != tc.wantDelay || gotFixed != tc.wantFixed {
				t.Errorf("retryLimits = %d, %s, %t; want %d, %s, %t", gotMax, gotDelay, gotFixed, tc.wantMax, tc.wantDelay, tc.wantFixed)
			}
		})
	}
}
