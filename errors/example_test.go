package pullerrors_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"

	pullerrors "github.com/pullengine/pullengine/errors"
)

func ExampleClassify() {
	// What c/image returns for a missing tag: a bare registry error code.
	missing := fmt.Errorf("reading manifest latest in quay.io/foo/bar: %w", v2.ErrorCodeManifestUnknown)
	fmt.Println(pullerrors.Classify(missing))

	// Two candidates of a short name: not found on one registry, down on the
	// other. The image may exist on the second, so the pull is Unavailable.
	both := errors.Join(missing, docker.UnexpectedHTTPStatusError{StatusCode: 503})
	fmt.Println(pullerrors.Classify(both))
	// Output:
	// not-found
	// unavailable
}

func ExampleHTTPStatus() {
	err := pullerrors.New("quay.io/foo/bar", fmt.Errorf("reading manifest latest in quay.io/foo/bar: %w", v2.ErrorCodeManifestUnknown))
	fmt.Println(pullerrors.HTTPStatus(err), pullerrors.HTTPStatus(nil))
	// Output:
	// 404 200
}

func ExampleNew() {
	// Docker Hub answers an anonymous pull of a missing (or private)
	// repository with 401 insufficient_scope, which c/image reports as a
	// DENIED of its own making: the default message and no detail.
	msg := errcode.ErrorCodeDenied.Message()
	denied := fmt.Errorf("reading manifest latest in docker.io/library/nosuch: %s%.0w", msg, errcode.Error{Code: errcode.ErrorCodeDenied, Message: msg})
	err := pullerrors.New("nosuch", nil, pullerrors.CandidateError{
		Name: "docker.io/library/nosuch:latest",
		Err:  denied,
	})
	fmt.Println(err.Kind, err.MaybeNotFound, pullerrors.HTTPStatus(err))
	fmt.Println(err)
	fmt.Println(errors.Is(err, pullerrors.ErrUnauthorized))
	// Output:
	// unauthorized true 401
	// pulling nosuch (docker.io/library/nosuch:latest): repository does not exist or requires authentication: reading manifest latest in docker.io/library/nosuch: requested access to the resource is denied
	// true
}

func ExampleWrap() {
	err := pullerrors.Wrap(pullerrors.InvalidArgument, errors.New("policy never and image not present"))
	fmt.Println(pullerrors.Classify(err), errors.Is(err, pullerrors.ErrInvalidArgument))
	// Output:
	// invalid-argument true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	d, ok := pullerrors.ParseRetryAfter("120", now)
	fmt.Println(d, ok)
	d, ok = pullerrors.ParseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", now)
	fmt.Println(d, ok)

	// Fault-handling code that sees the response attaches the delay.
	err := pullerrors.WithRetryAfter(errcode.ErrorCodeTooManyRequests, d)
	fmt.Println(pullerrors.RetryAfter(err))
	fmt.Println(pullerrors.Retryable(err))
	// Output:
	// 2m0s true
	// 30s true
	// 30s true
	// true
}
