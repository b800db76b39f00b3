package pullerrors

// Final marks err as not worth retrying, whatever its kind: the same
// request would fail the same way (a blob larger than its declared size is
// an Integrity error, which is otherwise transient). Classify and the
// message are unchanged; Retryable reports false.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return &finalError{err: err}
}

type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// isFinal reports whether err's tree holds an error marked by Final.
func isFinal(err error) bool {
	return walk(err, func(e error) bool {
		_, ok := e.(*finalError)
		return ok
	})
}
