package pullerrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
	"go.podman.io/storage"
)

// fuzzLeaves are the errors a fuzzed tree is built from.
var fuzzLeaves = []error{
	v2.ErrorCodeManifestUnknown, errcode.ErrorCodeDenied, errcode.ErrorCodeUnauthorized.WithMessage("x"),
	errcode.ErrorCodeTooManyRequests, errcode.Errors{}, errcode.Errors{errcode.ErrorCodeUnavailable, nil},
	docker.ErrUnauthorizedForCredentials{}, // nil Err: Error() panics
	&docker.UnexpectedHTTPStatusError{StatusCode: 502}, (*docker.UnexpectedHTTPStatusError)(nil),
	docker.ErrTooManyRequests, context.Canceled, context.DeadlineExceeded, io.EOF,
	(*url.Error)(nil), &url.Error{Op: "Get", URL: "https://u:p@h/", Err: nil},
	(*net.OpError)(nil), &net.DNSError{IsTimeout: true}, syscall.ENOSPC, syscall.EINVAL,
	storage.ErrImageUnknown, ErrNotFound, (*PullError)(nil), &PullError{Kind: Storage},
	(*RetryAfterError)(nil), &RetryAfterError{After: -1},
}

// fuzzTree builds an error tree from data: each byte picks a leaf or a way
// to combine the errors built so far.
func fuzzTree(data []byte, text string) error {
	stack := []error{errors.New(text)}
	for _, b := range data {
		top := stack[len(stack)-1]
		switch b % 8 {
		case 0:
			stack = append(stack, fuzzLeaves[int(b/8)%len(fuzzLeaves)])
		case 1:
			stack[len(stack)-1] = fmt.Errorf("%s: %w", text, top)
		case 2:
			if len(stack) > 1 {
				stack = append(stack[:len(stack)-2], errors.Join(stack[len(stack)-2], top))
			}
		case 3:
			stack[len(stack)-1] = Wrap(Kind(b/8)%Kind(numKinds+2), top)
		case 4:
			stack[len(stack)-1] = New(text, top, CandidateError{Name: text, Err: top, Authenticated: b&16 != 0})
		case 5:
			stack[len(stack)-1] = &url.Error{Op: "Get", URL: text, Err: top}
		case 6:
			stack[len(stack)-1] = errcode.Errors{top, v2.ErrorCodeBlobUnknown}
		case 7:
			stack[len(stack)-1] = WithRetryAfter(top, 0)
		}
	}
	return errors.Join(stack...)
}

// FuzzClassify: for any tree of wrapped, joined and odd errors, Classify
// answers a declared kind without panicking, HTTPStatus a status of the
// table, and a PullError's message stays on one line without the secret.
func FuzzClassify(f *testing.F) {
	f.Add([]byte{0, 1, 8, 2, 4}, "quay.io/x")
	f.Add([]byte{16, 5, 24, 6, 2, 3, 7}, "https://u:"+canary+"@h/")
	f.Add([]byte{200, 201, 202, 203, 204, 205, 206, 207}, "line\nbreak")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		if len(data) > 200 {
			data = data[:200]
		}
		// Texts enter the engine bounded (Bound cuts a registry's text at
		// safetext.MaxErrorText); a longer one copied into each of 200 nested
		// errors only measures the harness, and a loaded fuzz worker then
		// reports it as hung.
		if len(text) > safetext.MaxErrorText {
			text = text[:safetext.MaxErrorText]
		}
		err := fuzzTree(data, text)
		k := Classify(err)
		if !k.valid() {
			t.Fatalf("Classify returned undeclared kind %d", k)
		}
		status := HTTPStatus(err)
		if status < 400 || status > 599 {
			t.Fatalf("HTTPStatus = %d", status)
		}
		_ = Retryable(err)
		_, _ = RetryAfter(err)
		pe := New(text, err)
		msg := pe.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("message not one line: %q", msg)
		}
		if strings.Contains(text, "://u:"+canary+"@") && strings.Contains(msg, canary) {
			t.Fatalf("message carries the secret: %q", msg)
		}
		_ = fmt.Sprintf("%v %+v %#v %q", pe, pe, pe, pe)
	})
}
