package pullerrors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
	istorage "go.podman.io/image/v5/storage"
)

// clientTimeout returns the real error of an http.Client whose own Timeout
// expired: a single request timed out, the caller's context did not.
func clientTimeout(t *testing.T) error {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	resp, err := (&http.Client{Timeout: 50 * time.Millisecond}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded")
	}
	return err
}

// contextDeadline returns the real error of a request whose context expired.
func contextDeadline(t *testing.T) error {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded")
	}
	return err
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"registry 503", docker.UnexpectedHTTPStatusError{StatusCode: 503}, true},
		{"registry 500", docker.UnexpectedHTTPStatusError{StatusCode: 500}, true},
		{"UNAVAILABLE", errcode.ErrorCodeUnavailable, true},
		{"TOOMANYREQUESTS (bare code)", errcode.ErrorCodeTooManyRequests, true},
		{"token endpoint 429", docker.ErrTooManyRequests, true},
		{"connection refused", dialClosedPort(t), true},
		{"blob size mismatch", istorage.ErrBlobSizeMismatch, true},
		{"blob digest mismatch (real copy)", corruptBlobCopy(t), true},
		{"read deadline of one connection", readTimeout(t), true},
		{"http.Client timeout of one request", clientTimeout(t), true},
		{"registry 408", docker.UnexpectedHTTPStatusError{StatusCode: 408}, true},

		{"the caller's deadline (real request)", contextDeadline(t), false},
		{"the caller's deadline", fmt.Errorf("pulling: %w", context.DeadlineExceeded), false},
		{"the caller's cancellation", context.Canceled, false},
		{"UNAUTHORIZED", errcode.ErrorCodeUnauthorized, false},
		{"bad credentials", docker.ErrUnauthorizedForCredentials{Err: errcode.ErrorCodeUnauthorized}, false},
		{"DENIED", errcode.ErrorCodeDenied, false},
		{"MANIFEST_UNKNOWN", v2.ErrorCodeManifestUnknown, false},
		{"NAME_UNKNOWN", v2.ErrorCodeNameUnknown, false},
		{"invalid reference", ErrInvalidReference, false},
		{"TLS", verifyUntrusted(t), false},
		{"platform not found", platformNotFound(t), false},
		{"unknown", errors.New("boom"), false},
		{"nil", nil, false},
		{"PullError that is Unavailable", New("x", nil, CandidateError{Name: "a/x", Err: v2.ErrorCodeManifestUnknown}, CandidateError{Name: "b/x", Err: errcode.ErrorCodeUnavailable}), true},
		{"PullError that timed out by the caller's deadline", New("x", context.DeadlineExceeded), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Retryable(tc.err); got != tc.want {
				t.Errorf("Retryable(%v) [%s] = %t, want %t", tc.err, Classify(tc.err), got, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	rateLimited := WithRetryAfter(errcode.ErrorCodeTooManyRequests, 30*time.Second)
	if d, ok := RetryAfter(rateLimited); !ok || d != 30*time.Second {
		t.Errorf("RetryAfter = %v, %t", d, ok)
	}
	if Classify(rateLimited) != RateLimited || !Retryable(rateLimited) {
		t.Error("a RetryAfterError hides its error's kind")
	}
	if !errors.Is(rateLimited, errcode.ErrorCodeTooManyRequests) {
		t.Error("a RetryAfterError hides its error")
	}
	// A 503 with Retry-After stays Unavailable.
	if k := Classify(WithRetryAfter(docker.UnexpectedHTTPStatusError{StatusCode: 503}, time.Second)); k != Unavailable {
		t.Errorf("503 with Retry-After is %s", k)
	}
	// Alone, it means "slow down".
	if k := Classify(&RetryAfterError{After: time.Second}); k != RateLimited {
		t.Errorf("bare RetryAfterError is %s", k)
	}
	// Through a PullError and a join.
	pe := New("x", nil, CandidateError{Name: "a/x", Err: v2.ErrorCodeManifestUnknown}, CandidateError{Name: "b/x", Err: fmt.Errorf("reading manifest: %w", rateLimited)})
	if d, ok := RetryAfter(fmt.Errorf("engine: %w", pe)); !ok || d != 30*time.Second || pe.Kind != RateLimited {
		t.Errorf("RetryAfter through PullError = %v, %t (kind %s)", d, ok, pe.Kind)
	}
	if _, ok := RetryAfter(errcode.ErrorCodeTooManyRequests); ok {
		t.Error("RetryAfter found a delay where none was attached")
	}
	if _, ok := RetryAfter(nil); ok {
		t.Error("RetryAfter(nil) reported a delay")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},  // obsolete RFC 850
		{"Wed Oct 21 07:28:10 2015", 10 * time.Second, true},      // obsolete asctime
		{"Wed, 21 Oct 2015 07:27:00 GMT", 0, false},               // in the past: no delay
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, false},               // now: no delay
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"9223372036854775807", 0, false},  // overflows a Duration
		{"99999999999999999999", 0, false}, // overflows int64
	}
	for _, tc := range tests {
		got, ok := ParseRetryAfter(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %t; want %v, %t", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
