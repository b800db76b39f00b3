package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
)

func TestRootCause(t *testing.T) {
	t.Parallel()
	inner := errors.New("manifest unknown")
	copying := fmt.Errorf("copying: %w", inner)
	one := pullerrors.New("x", copying, pullerrors.CandidateError{Name: "r/x", Err: copying})
	if got := rootCause(one); got != "manifest unknown" {
		t.Errorf("cause of one candidate's error: %q", got)
	}
	e1 := fmt.Errorf("a: %w", inner)
	two := pullerrors.New("x", errors.Join(e1, errors.New("b")),
		pullerrors.CandidateError{Name: "r1/x", Err: e1}, pullerrors.CandidateError{Name: "r2/x", Err: errors.New("b")})
	if got := rootCause(two); got != two.Error() {
		t.Errorf("cause of two candidates' errors: %q, want the whole message", got)
	}
	wrapped := pullerrors.Wrap(pullerrors.InvalidArgument, errors.New("bad option"))
	if got := rootCause(wrapped); got != "bad option" {
		t.Errorf("cause of a kind-wrapped error: %q", got)
	}
	secret := fmt.Errorf("get https://bob:hunter2@registry.example/v2/: %w", errors.New("denied"))
	if got := message(secret); got != "get https://xxxxx@registry.example/v2/: denied" {
		t.Errorf("message %q is not redacted", got)
	}
	if got := message(errors.New("line one\nline two")); got != "line one; line two" {
		t.Errorf("message %q is not on one line", got)
	}
}

func TestFailEarly(t *testing.T) {
	t.Parallel()
	h := &handler{}
	r := httptest.NewRequest(http.MethodPost, "/libpod/images/pull", nil)

	// A registry's Retry-After, when the error carries it, is passed on.
	w := httptest.NewRecorder()
	err := pullerrors.WithRetryAfter(pullerrors.Wrap(pullerrors.RateLimited, errors.New("toomanyrequests")), 1500*time.Millisecond)
	if got := h.failEarly(w, r, err, false); got != 429 || w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("rate limited: %d, %d, Retry-After %q", got, w.Code, w.Header().Get("Retry-After"))
	}

	// Canceled: the client left (nobody reads the answer) or the server is
	// shutting down (the client waits): 503 either way.
	for _, ctx := range []context.Context{context.Background(), canceledContext()} {
		w = httptest.NewRecorder()
		canceled := pullerrors.New("x", context.Canceled)
		if got := h.failEarly(w, r.WithContext(ctx), canceled, false); got != 503 || w.Code != 503 {
			t.Errorf("canceled: %d, %d", got, w.Code)
		}
		var m ErrorModel
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.ResponseCode != 503 {
			t.Errorf("body %s: %v", w.Body, err)
		}
	}

	// Compat mode: Docker's {"message"} with the root cause.
	w = httptest.NewRecorder()
	nf := pullerrors.New("x", fmt.Errorf("reading manifest: %w", pullerrors.Wrap(pullerrors.NotFound, errors.New("manifest unknown"))))
	if got := h.failEarly(w, r, nf, true); got != 404 || w.Body.String() != `{"message":"manifest unknown"}`+"\n" {
		t.Errorf("compat: %d %s", got, w.Body)
	}
}

func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
