package pullerrors

// Registries choose the text of their errors, and containers/image keeps
// that text whole: an error body of any size is read into memory (its
// parseHTTPErrorResponse uses io.ReadAll, which nothing outside
// containers/image can limit), and every fmt.Errorf that wraps it on the way
// up copies the whole text again. This file bounds what the engine keeps of
// such text; safetext bounds and escapes what it repeats.

import (
	"syscall"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
)

// bound (engineerr.Bound) returns err unchanged when its text is at most
// safetext.MaxErrorText bytes.
// An error with a longer text (a registry's 50 MB error body, carried whole
// by containers/image) is replaced by one that keeps only:
//
//   - its text, cleaned (safetext.Clean) and cut at safetext.MaxErrorText;
//   - its kind, as Classify says, and what Retryable, RetryAfter and
//     HTTPStatus need;
//   - the small errors of its tree that callers match with errors.Is and
//     errors.As, or that say whether a registry refused access: sentinel
//     values, system call errors, registry error codes (with their message
//     cut and their detail reduced to a mark of its presence), containers/image's HTTP status errors,
//     signature policy rejections, and the leaves' text, cut.
//
// So the big text can be freed as soon as the engine has the error, and no
// log line, message or event repeats it. bound(nil) is nil.
func bound(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*boundedError); ok {
		return err
	}
	text := errorText(err)
	if len(text) <= safetext.MaxErrorText {
		return err
	}
	b := &boundedError{msg: safetext.Clean(text, safetext.MaxErrorText), kind: Classify(err)}
	walk(err, func(e error) bool {
		if k, ok := keepable(e); ok {
			b.keep = append(b.keep, k)
		}
		return false
	})
	return b
}

// boundedError stands for an error whose text was too long to keep.
type boundedError struct {
	msg  string
	kind Kind
	keep []error
}

func (e *boundedError) Error() string { return e.msg }

// Unwrap returns the small errors kept from the original tree.
func (e *boundedError) Unwrap() []error { return e.keep }

// Is reports whether target is the sentinel of the original error's kind.
func (e *boundedError) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && Kind(s) == e.kind
}

// keepable returns the part of one node of an error tree worth keeping after
// bound: the node itself when it is small, a cut copy of a registry error
// code, or the cut text of a leaf. Wrappers are dropped (their leaves are
// kept).
func keepable(e error) (error, bool) {
	switch v := e.(type) {
	case sentinel, *kindError, *PullError, *boundedError:
		return nil, false // the kind is kept as a whole; marks would override it
	case errcode.ErrorCode:
		return v, true
	case errcode.Error:
		return errcode.Error{Code: v.Code, Message: safetext.Truncate(v.Message, safetext.MaxErrorText), Detail: detailMark(v.Detail)}, true
	case docker.UnexpectedHTTPStatusError, *docker.UnexpectedHTTPStatusError:
		return v, true
	case docker.ErrUnauthorizedForCredentials:
		return docker.ErrUnauthorizedForCredentials{Err: bound(v.Err)}, true
	case *docker.ErrUnauthorizedForCredentials:
		if v != nil {
			return docker.ErrUnauthorizedForCredentials{Err: bound(v.Err)}, true
		}
		return nil, false
	case signature.PolicyRequirementError:
		return signature.PolicyRequirementError(safetext.Truncate(string(v), safetext.MaxErrorText)), true
	case *RetryAfterError:
		if v != nil {
			return &RetryAfterError{After: v.After}, true
		}
		return nil, false
	}
	if isSentinelValue(e) || isErrno(e) {
		return e, true
	}
	if branches, next := unwrap(e); branches == nil && next == nil {
		return textError(safetext.Clean(errorText(e), safetext.MaxErrorText)), true
	}
	return nil, false
}

// detailMark stands for a registry error's detail (any JSON, of any size)
// where only whether it was there is kept: nil for none, else an empty
// struct. A DENIED code with a detail came from the registry's body, not
// from containers/image's reading of a 401 challenge (see New).
func detailMark(detail any) any {
	if detail == nil {
		return nil
	}
	return struct{}{}
}

// textError is the cut text of a leaf error dropped by bound.
type textError string

func (e textError) Error() string { return string(e) }

func isErrno(e error) bool {
	_, ok := e.(syscall.Errno)
	return ok
}

// isSentinelValue reports whether e is one of the known error values of
// sources.go (context.Canceled, io.ErrUnexpectedEOF, storage errors, ...).
func isSentinelValue(e error) bool {
	for _, s := range sentinels {
		if e == s.err {
			return true
		}
	}
	return false
}
