package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
)

// ErrorModel is the body of every non-2xx answer, as libpod writes it
// (errorhandling.ErrorModel): Podman's Go bindings decode it into an error
// whose Cause is Because and whose Code is ResponseCode.
type ErrorModel struct {
	// Because is the root cause of the error, for programs.
	Because string `json:"cause"`
	// Message is the whole error message, for people.
	Message string `json:"message"`
	// ResponseCode repeats the HTTP status.
	ResponseCode int `json:"response"`
}

// writeError answers status with libpod's error body. The Content-Type is
// exactly "application/json": with a charset parameter, Podman's bindings
// do not decode the body.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, ErrorModel{Because: rootCause(err), Message: message(err), ResponseCode: status})
}

// writeJSON answers status with v as JSON, as libpod's WriteJSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// message is err's text as pullerrors cleans the engine's own messages:
// on one line, without credentials, the control, C1 and bidi characters of
// a registry's words escaped (safetext.Clean), cut at
// safetext.MaxMessage; its long words (echoed input) clipped. The root
// cause is an inner error, which PullError's cleaning never touched.
func message(err error) string {
	return clipWords(safetext.Clean(err.Error(), safetext.MaxMessage))
}

// rootCause is the text of the innermost error of err's chain, as libpod's
// errorhandling.Cause, redacted. Where the chain forks (several pull
// candidates failed) the error at the fork is the cause; the kind
// sentinels pullerrors adds beside an error are not branches.
func rootCause(err error) string {
	cause := err
	for range 100 {
		next := unwrapOne(cause)
		if next == nil {
			break
		}
		cause = next
	}
	return message(cause)
}

// unwrapOne returns the single error err wraps, or nil when it wraps none
// or several.
func unwrapOne(err error) error {
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		return x.Unwrap()
	case interface{ Unwrap() []error }:
		var only error
		for _, e := range x.Unwrap() {
			if e == nil || isSentinel(e) || same(e, only) {
				continue
			}
			if only != nil {
				return nil
			}
			only = e
		}
		return only
	}
	return nil
}

// same reports whether a and b are the same error value (a PullError of one
// candidate holds its error twice: as the pull's and as the candidate's).
func same(a, b error) bool {
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// isSentinel reports whether err is one of pullerrors' kind sentinels.
func isSentinel(err error) bool {
	for _, k := range pullerrors.Precedence() {
		if err == k.Sentinel() {
			return true
		}
	}
	return false
}

// badRequest is an invalid parameter of a request: answered 400 before any
// pull.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badRequestf(msg string) error {
	return pullerrors.Wrap(pullerrors.InvalidArgument, &badRequest{msg: msg})
}
