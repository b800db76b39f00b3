package pullerrors

import (
	"context"
	"errors"
	"fmt"
)

// fromContext (engineerr.FromContext) classifies err, a failure of work done under ctx, by ctx when
// ctx has ended: Canceled when it was canceled, Timeout when its deadline
// passed, never a retryable kind. It returns err unchanged when ctx has not
// ended or err is nil.
//
// It exists for contexts ended with a cause (context.WithCancelCause,
// context.WithTimeoutCause, signal.NotifyContext): net/http and
// containers/image then return the cause, an error of the caller's own, or
// wrap it in a *url.Error, which alone would classify as Unavailable and be
// retried. The result keeps err's text and tree (errors.Is and errors.As
// still reach the cause) and adds ctx.Err() to it.
func fromContext(ctx context.Context, err error) error {
	if err == nil || ctx == nil || ctx.Err() == nil {
		return err
	}
	ctxErr := ctx.Err()
	kind := Canceled
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		kind = Timeout
	}
	if Classify(err) == kind && chainHas(err, ctxErr) {
		return err // already says so
	}
	return Wrap(kind, fmt.Errorf("%w (%w)", err, ctxErr))
}
