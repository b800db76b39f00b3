package pullerrors

import "fmt"

// Kind is the class of a pull error. The zero value is Internal.
//
// The String forms ("not-found", "unauthorized", ...) are part of the API:
// they appear in logs, progress events and HTTP responses, and never change.
type Kind int

// The kinds of pull errors. README.md's errors table (section Errors) gives
// the HTTP status of each; HTTPStatus implements it.
const (
	Internal         Kind = iota // anything not classified below
	InvalidReference             // the image name cannot be parsed
	InvalidArgument              // an option is invalid or options conflict
	NotFound                     // the image, tag, repository or local ID does not exist
	PlatformNotFound             // a manifest list has no instance for the platform asked
	Unauthorized                 // credentials missing or rejected
	Denied                       // authenticated but not allowed, or rejected by signature policy
	RateLimited                  // the registry asks the client to slow down
	Unavailable                  // the registry cannot be reached or answers 5xx
	Timeout                      // a deadline expired
	Canceled                     // the caller canceled the pull
	Integrity                    // digest or size mismatch, corrupt data from the registry
	TLS                          // certificate not trusted or handshake failure
	Unsupported                  // the operation is not supported for this input
	Storage                      // the local store failed (including a full disk)
	Decryption                   // encrypted layers, and no decryption key given opens them
)

var kindNames = [...]string{
	Internal:         "internal",
	InvalidReference: "invalid-reference",
	InvalidArgument:  "invalid-argument",
	NotFound:         "not-found",
	PlatformNotFound: "platform-not-found",
	Unauthorized:     "unauthorized",
	Denied:           "denied",
	RateLimited:      "rate-limited",
	Unavailable:      "unavailable",
	Timeout:          "timeout",
	Canceled:         "canceled",
	Integrity:        "integrity",
	TLS:              "tls",
	Unsupported:      "unsupported",
	Storage:          "storage",
	Decryption:       "decryption",
}

// String returns the stable lowercase name of the kind, e.g. "not-found".
func (k Kind) String() string {
	if !k.valid() {
		return kindNames[Internal]
	}
	return kindNames[k]
}

// sentinel is the error value that stands for a kind in an error chain.
type sentinel Kind

func (s sentinel) Error() string { return Kind(s).String() }

// Kind returns the kind the sentinel stands for.
func (s sentinel) Kind() Kind { return Kind(s) }

// One sentinel per kind, to test an error's kind with errors.Is. Mark an
// error at its source with Errorf or Wrap (see "Marking errors at the
// source" in the package doc).
var (
	ErrInternal         error = sentinel(Internal)
	ErrInvalidReference error = sentinel(InvalidReference)
	ErrInvalidArgument  error = sentinel(InvalidArgument)
	ErrNotFound         error = sentinel(NotFound)
	ErrPlatformNotFound error = sentinel(PlatformNotFound)
	ErrUnauthorized     error = sentinel(Unauthorized)
	ErrDenied           error = sentinel(Denied)
	ErrRateLimited      error = sentinel(RateLimited)
	ErrUnavailable      error = sentinel(Unavailable)
	ErrTimeout          error = sentinel(Timeout)
	ErrCanceled         error = sentinel(Canceled)
	ErrIntegrity        error = sentinel(Integrity)
	ErrTLS              error = sentinel(TLS)
	ErrUnsupported      error = sentinel(Unsupported)
	ErrStorage          error = sentinel(Storage)
	ErrDecryption       error = sentinel(Decryption)
)

// Sentinel returns the sentinel error of kind k (ErrInternal for a value
// outside the declared kinds).
func (k Kind) Sentinel() error {
	if !k.valid() {
		return ErrInternal
	}
	return sentinel(k)
}

// numKinds is the number of declared kinds; every Kind below it is valid.
const numKinds = len(kindNames)

func (k Kind) valid() bool { return k >= 0 && int(k) < numKinds }

// parseKind returns the kind whose String form is s ("not-found", ...).
// It is the inverse of Kind.String; clients read a kind back from a log
// line, a progress event or an HTTP response with Kind.UnmarshalText.
func parseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), true
		}
	}
	return Internal, false
}

// MarshalText encodes the kind as its String form, so a Kind in a JSON
// document reads "not-found" rather than a number.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a kind from its String form.
func (k *Kind) UnmarshalText(text []byte) error {
	parsed, ok := parseKind(string(text))
	if !ok {
		return fmt.Errorf("unknown error kind %q", text)
	}
	*k = parsed
	return nil
}
