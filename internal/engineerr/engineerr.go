// Package engineerr holds the error constructors that only the engine and
// its internal packages use. They build values that pullerrors' Classify
// and Retryable recognise, but no user of the library needs to build one,
// so they are not part of pullerrors' API.
//
// Final's mark is declared here and read by pullerrors (which imports this
// package). Bound and FromContext need pullerrors' private view of an error
// tree, so pullerrors installs them from its init (Install) and this
// package forwards to them: every caller imports pullerrors as well, which
// runs that init before any call.
package engineerr

import "context"

// Final marks err as not worth retrying, whatever its kind: the same
// request would fail the same way (a blob larger than its declared size is
// an Integrity error, which is otherwise transient). Classify and the
// message are unchanged; pullerrors.Retryable reports false.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return &finalError{err: err}
}

type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// IsFinal reports whether e itself (one node of an error tree, not its
// chain) is a Final mark.
func IsFinal(e error) bool {
	_, ok := e.(*finalError)
	return ok
}

// The implementations pullerrors installs.
var (
	bound       func(error) error
	fromContext func(context.Context, error) error
)

// Install is called once, by pullerrors' init, with its implementations
// of Bound and FromContext.
func Install(b func(error) error, fc func(context.Context, error) error) {
	if bound != nil || fromContext != nil {
		panic("engineerr: installed twice")
	}
	bound, fromContext = b, fc
}

// Bound returns err unchanged when its text is at most
// safetext.MaxErrorText bytes, else an error that keeps only its cleaned,
// cut text, its kind and the small errors of its tree that callers match
// with errors.Is and errors.As (see pullerrors' bound.go). So a registry's
// 50 MB error body can be freed as soon as the engine has the error.
// Bound(nil) is nil.
func Bound(err error) error { return bound(err) }

// FromContext classifies err, a failure of work done under ctx, by ctx when
// ctx has ended: Canceled when it was canceled, Timeout when its deadline
// passed, never a retryable kind. It returns err unchanged when ctx has not
// ended or err is nil. It exists for contexts ended with a cause, whose
// errors would otherwise classify as Unavailable and be retried.
func FromContext(ctx context.Context, err error) error { return fromContext(ctx, err) }
