package pullerrors

import (
	"net/http"
	"syscall"
)

// StatusClientClosedRequest is the status for a pull the client canceled
// (nginx's 499). A server usually cannot write it, since the client is gone,
// but logs and metrics should say so rather than 500.
const StatusClientClosedRequest = 499

// statuses is the errors table of README.md (section Errors): the HTTP
// status a server answers for each kind.
var statuses = [numKinds]int{
	InvalidReference: http.StatusBadRequest,
	InvalidArgument:  http.StatusBadRequest,
	NotFound:         http.StatusNotFound,
	PlatformNotFound: http.StatusNotFound,
	Unauthorized:     http.StatusUnauthorized,
	Denied:           http.StatusForbidden,
	RateLimited:      http.StatusTooManyRequests,
	Unavailable:      http.StatusServiceUnavailable,
	Timeout:          http.StatusGatewayTimeout,
	Canceled:         StatusClientClosedRequest,
	Integrity:        http.StatusBadGateway,
	TLS:              http.StatusBadGateway,
	Unsupported:      http.StatusBadRequest,
	Storage:          http.StatusInternalServerError, // 507 when the disk is full
	Decryption:       http.StatusUnprocessableEntity, // the request lacks the key; no other kind's status
	Internal:         http.StatusInternalServerError,
}

// HTTPStatus returns the status an HTTP server should answer for err: 200 for
// nil, else the status of Classify(err)'s kind:
//
//	InvalidReference, InvalidArgument, Unsupported  400
//	Unauthorized                                    401
//	Denied                                          403
//	NotFound, PlatformNotFound                      404
//	Decryption                                      422
//	RateLimited                                     429
//	Canceled                                        499
//	Internal                                        500
//	Storage                                         500, or 507 when err holds ENOSPC or EDQUOT
//	Integrity, TLS                                  502
//	Unavailable                                     503
//	Timeout                                         504
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	k := Classify(err)
	if k == Storage && diskFull(err) {
		return http.StatusInsufficientStorage
	}
	if !k.valid() {
		return http.StatusInternalServerError
	}
	return statuses[k]
}

// isDiskFullErrno reports whether err is itself ENOSPC (c/storage's
// chrootarchive re-creates unix.ENOSPC, the same value, when an extraction
// child runs out of space) or EDQUOT.
func isDiskFullErrno(err error) bool {
	errno, ok := err.(syscall.Errno)
	return ok && (errno == syscall.ENOSPC || errno == syscall.EDQUOT)
}
