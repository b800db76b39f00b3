package registryclient

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
)

// ResponseError turns a registry's error answer into the errors
// containers/image makes of it (a registry error code, or an HTTP status),
// reading at most MaxAuxBody bytes of its body. The caller closes the body.
// A Retry-After header the answer carries (a 429's, a 503's) comes with the
// error as a *pullerrors.RetryAfterError, which the engine's retries and
// httpapi's answer honour.
func ResponseError(res *http.Response) error {
	err := responseError(res)
	if after, ok := pullerrors.ParseRetryAfter(res.Header.Get("Retry-After"), time.Now()); ok {
		return pullerrors.WithRetryAfter(err, after)
	}
	return err
}

// responseError is ResponseError without the Retry-After.
func responseError(res *http.Response) error {
	if res.StatusCode == http.StatusUnauthorized {
		for _, c := range ParseChallenges(res.Header.Values("WWW-Authenticate")) {
			if c.Scheme == "bearer" && c.Params["error"] == "insufficient_scope" {
				msg := c.Params["error_description"]
				if msg == "" {
					msg = errcode.ErrorCodeDenied.Message()
				}
				return errcode.Error{Code: errcode.ErrorCodeDenied, Message: safetext.Truncate(msg, 256)}
			}
		}
	}
	if res.StatusCode == http.StatusTooManyRequests {
		return docker.ErrTooManyRequests
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, MaxAuxBody))
	var errs errcode.Errors
	if json.Unmarshal(body, &errs) == nil && len(errs) > 0 {
		if e, ok := errs[0].(errcode.Error); ok {
			// The registry's text, bounded; of its detail (any JSON) only
			// whether it was there, which tells a body's DENIED from a
			// challenge's (pullerrors.New).
			var detail any
			if e.Detail != nil {
				detail = struct{}{}
			}
			return errcode.Error{Code: e.Code, Message: safetext.Truncate(e.Message, 256), Detail: detail}
		}
		return errs[0]
	}
	if res.StatusCode == http.StatusUnauthorized {
		return errcode.ErrorCodeUnauthorized
	}
	return fmt.Errorf("%s: %q%.0w", res.Status, safetext.Truncate(string(body), 50), docker.UnexpectedHTTPStatusError{StatusCode: res.StatusCode})
}
