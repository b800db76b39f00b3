package pullerrors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
)

// A registry's escape sequences never reach a PullError's message, its log
// value or a candidate's text.
func TestPullErrorSanitizes(t *testing.T) {
	hostile := errcode.ErrorCodeDenied.WithMessage("\x1b[31mdenied\x1b[0m\x07\r\nforged: line")
	pe := New("x", nil, CandidateError{Name: "r.example/x:latest", Err: hostile}).WithAuthenticated(true)
	for _, s := range []string{pe.Error(), fmt.Sprintf("%#v", pe), pe.Candidates[0].Error(), pe.LogValue().String()} {
		if strings.ContainsAny(s, "\x1b\x07\r\n") {
			t.Errorf("control characters survive: %q", s)
		}
	}
	if !strings.Contains(pe.Error(), `\x1b[31mdenied`) {
		t.Errorf("the escaped text is gone: %q", pe.Error())
	}
}

// Bound drops a huge text but keeps what classification, retry advice and
// errors.Is/As need.
func TestBound(t *testing.T) {
	huge := strings.Repeat("A", 10<<20)
	tests := []struct {
		name      string
		err       error
		kind      Kind
		retryable bool
		as        func(error) bool
	}{
		{"errcode with a huge message", fmt.Errorf("reading manifest: %w", errcode.ErrorCodeDenied.WithMessage(huge)), Denied, false,
			func(err error) bool {
				var e errcode.Error
				return errors.As(err, &e) && e.Code == errcode.ErrorCodeDenied
			}},
		{"status error next to a huge text", fmt.Errorf("%s: %w", huge, docker.UnexpectedHTTPStatusError{StatusCode: 503}), Unavailable, true,
			func(err error) bool {
				var e docker.UnexpectedHTTPStatusError
				return errors.As(err, &e) && e.StatusCode == 503
			}},
		{"disk full", Wrap(Storage, &fs.PathError{Op: huge, Path: "/x", Err: syscall.ENOSPC}), Storage, false,
			func(err error) bool { return errors.Is(err, syscall.ENOSPC) }},
		{"canceled", &url.Error{Op: "Get", URL: huge, Err: context.Canceled}, Canceled, false,
			func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := engineerr.Bound(tc.err)
			if n := len(b.Error()); n > safetext.MaxErrorText {
				t.Errorf("text of %d bytes", n)
			}
			if !strings.HasSuffix(b.Error(), safetext.TruncatedSuffix) {
				t.Errorf("no truncation mark: %q", b.Error()[len(b.Error())-40:])
			}
			if k := Classify(b); k != tc.kind || Classify(tc.err) != tc.kind {
				t.Errorf("kind %s (original %s), want %s", k, Classify(tc.err), tc.kind)
			}
			if Retryable(b) != tc.retryable || HTTPStatus(b) != HTTPStatus(tc.err) {
				t.Errorf("Retryable %t, status %d; want %t, %d", Retryable(b), HTTPStatus(b), tc.retryable, HTTPStatus(tc.err))
			}
			if !tc.as(b) {
				t.Error("errors.Is/As no longer reaches the small error")
			}
			if !errors.Is(b, tc.kind.Sentinel()) {
				t.Error("errors.Is(kind sentinel) = false")
			}
		})
	}
	small := errors.New("small")
	if engineerr.Bound(small) != small {
		t.Error("a short error was replaced")
	}
	pe := New("x", fmt.Errorf("%s", huge))
	if n := len(pe.Error()); n > safetext.MaxMessage {
		t.Errorf("PullError message of %d bytes", n)
	}
}

// A refusal keeps the registry's status: an explicit 403 DENIED is Denied
// (403) with the MaybeNotFound hint, whatever its message; the DENIED
// containers/image makes of a 401 insufficient_scope challenge (default
// message, no detail) stays Unauthorized (401).
func TestForbiddenKeepsItsStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		kind   Kind
		status int
	}{
		{"403 DENIED with the registry's words", errcode.ErrorCodeDenied.WithMessage("Your authorization token has expired."), Denied, 403},
		{"bare 403 status", docker.UnexpectedHTTPStatusError{StatusCode: 403}, Denied, 403},
		{"401 insufficient_scope (default message)", fmt.Errorf("%s%.0w", errcode.ErrorCodeDenied.Message(), errcode.Error{Code: errcode.ErrorCodeDenied, Message: errcode.ErrorCodeDenied.Message()}), Unauthorized, 401},
		{"401 UNAUTHORIZED", errcode.ErrorCodeUnauthorized.WithMessage("authentication required"), Unauthorized, 401},
		// issue 22, 15: a body's DENIED with the default message is decoded
		// as a bare code; quay's has a detail. Both are the registry's 403.
		{"403 DENIED, default message (a bare code)", errcode.ErrorCodeDenied, Denied, 403},
		{"403 DENIED, default message, quay's detail", fmt.Errorf("%s%.0w", errcode.ErrorCodeDenied.Message(),
			errcode.Error{Code: errcode.ErrorCodeDenied, Message: errcode.ErrorCodeDenied.Message(), Detail: map[string]any{}}), Denied, 403},
		{"403 DENIED, quay's detail, its text over safetext.MaxErrorText (Bound)", fmt.Errorf("%s: %w", strings.Repeat("x", 2*safetext.MaxErrorText),
			errcode.Error{Code: errcode.ErrorCodeDenied, Message: errcode.ErrorCodeDenied.Message(), Detail: map[string]any{"big": strings.Repeat("d", 1<<20)}}), Denied, 403},
		{"401 insufficient_scope, its text over safetext.MaxErrorText (Bound)", fmt.Errorf("%s: %w", strings.Repeat("x", 2*safetext.MaxErrorText), errDenied()), Unauthorized, 401},
	} {
		pe := New("r.example/x", fmt.Errorf("reading manifest: %w", tc.err))
		if pe.Kind != tc.kind || HTTPStatus(pe) != tc.status || !pe.MaybeNotFound ||
			!strings.Contains(pe.Error(), "does not exist or requires authentication") {
			t.Errorf("%s: kind %s, status %d, MaybeNotFound %t, %q", tc.name, pe.Kind, HTTPStatus(pe), pe.MaybeNotFound, pe.Error())
		}
		if pe.WithAuthenticated(true); pe.MaybeNotFound {
			t.Errorf("%s: MaybeNotFound with credentials", tc.name)
		}
	}
}

// Hostile content has a real kind: bad upstream content is Integrity (502)
// and not retried; a path no file system accepts is a bad name (400).
func TestHostileContentKinds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		kind      Kind
		retryable bool
	}{
		{"manifest over 4 MiB", fmt.Errorf("reading manifest v1: %w", errors.New("exceeded maximum allowed size of 4194304 bytes")), Integrity, false},
		{"HTML content type", fmt.Errorf("parsing manifest: %w", errors.New("unsupported schema version 2")), Integrity, false},
		{"5,000-char path", &fs.PathError{Op: "stat", Path: strings.Repeat("a", 5000), Err: syscall.ENAMETOOLONG}, InvalidReference, false},
		{"5,000-char path, flattened", errors.New("open /aaaa: file name too long"), InvalidReference, false},
		{"digest mismatch stays retryable", errors.New("Digest did not match, expected sha256:1, got sha256:2"), Integrity, true},
	} {
		if k := Classify(tc.err); k != tc.kind || Retryable(tc.err) != tc.retryable || HTTPStatus(tc.err) == 500 {
			t.Errorf("%s: kind %s retryable %t status %d; want %s %t", tc.name, k, Retryable(tc.err), HTTPStatus(tc.err), tc.kind, tc.retryable)
		}
	}
}

// A context ended with a cause is Canceled or Timeout, never retryable,
// whatever error the cause arrived in.
func TestFromContextWithCause(t *testing.T) {
	cause := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	// net/http returns the cause inside a *url.Error.
	err := &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: context.Cause(ctx)}
	if Classify(err) != Unavailable {
		t.Fatalf("precondition: the raw error is %s", Classify(err))
	}
	got := engineerr.FromContext(ctx, err)
	if Classify(got) != Canceled || Retryable(got) || !errors.Is(got, cause) || !errors.Is(got, context.Canceled) {
		t.Errorf("canceled with a cause: %s, retryable %t: %v", Classify(got), Retryable(got), got)
	}

	tctx, tcancel := context.WithTimeoutCause(context.Background(), time.Nanosecond, cause)
	defer tcancel()
	<-tctx.Done()
	got = engineerr.FromContext(tctx, &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: context.Cause(tctx)})
	if Classify(got) != Timeout || Retryable(got) || HTTPStatus(got) != 504 {
		t.Errorf("timeout with a cause: %s, retryable %t: %v", Classify(got), Retryable(got), got)
	}

	if engineerr.FromContext(context.Background(), cause) != cause {
		t.Error("a live context changed the error")
	}
}
