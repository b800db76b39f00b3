// Package pullerrors classifies every error a pull can return.
//
// The model follows containerd's errdefs: a small, closed set of kinds that
// say how a caller should react (retry, ask for credentials, report "no such
// image", fix the input), orthogonal to the messages, which stay with the code
// that produced them. Each kind has a sentinel value usable with errors.Is;
// the HTTP mapping is a thin layer on top of the kinds.
//
// The package lives in the directory "errors" (the layout users were
// promised: engine/, policy/, platform/, errors/, progress/) but is named
// pullerrors, so that importing it never shadows the standard library's
// errors package, which every caller also needs for errors.Is and
// errors.As. Import it as
//
//	import pullerrors "github.com/pullengine/pullengine/errors"
//
// and the package name in code matches the one in this documentation.
//
// # Kinds
//
// Classify maps any error to one Kind; HTTPStatus maps it to the status a
// server should answer; Retryable says whether retrying may help; RetryAfter
// finds a delay the registry asked for:
//
//	kind               status  retryable  examples
//	invalid-reference  400     no         uppercase repository, garbage, bad digest, NAME_INVALID
//	invalid-argument   400     no         unknown policy, bad platform, conflicting options
//	not-found          404     no         MANIFEST_UNKNOWN, NAME_UNKNOWN, storage.ErrImageUnknown
//	platform-not-found 404     no         a manifest list without the requested platform
//	unauthorized       401     no         UNAUTHORIZED, bad credentials at the token endpoint
//	denied             403     no         DENIED, a signature policy rejection, a blocked registry
//	rate-limited       429     yes        TOOMANYREQUESTS, a bare 429
//	unavailable        503     yes        registry 5xx, UNAVAILABLE, connection refused or reset, DNS
//	timeout            504     1          a network timeout; the caller's deadline
//	canceled           499     no         the caller's context canceled
//	integrity          502     yes        digest or size mismatch, DIGEST_INVALID
//	tls                502     no         certificate not trusted, handshake failure
//	unsupported        400     no         UNSUPPORTED, a non-image artifact
//	storage            500/507 no         local store failures; 507 when the disk is full
//	decryption         422     no         an encrypted layer, and no key given, or none that opens it
//	internal           500     no         anything else
//
// (1) A timeout of a single request is retryable; the caller's own deadline
// (context.DeadlineExceeded in the chain) is not.
//
// # Pull errors
//
// The engine returns a *PullError built by New: the input name, the kind,
// each candidate reference tried with its own error, and a one-line message
// without credentials ("pulling <name>: <what went wrong>: <the underlying
// errors, the registry's own words last>"). errors.Is(err, ErrNotFound) works
// on it, and errors.Is / errors.As still reach the underlying errors
// (storage.ErrImageUnknown, errcode.ErrorCoder, ...).
//
// Registries hide whether a repository exists: Docker Hub, quay.io and
// Harbor answer an anonymous request for a missing repository exactly as for
// a private one (401, DENIED after an insufficient_scope challenge, or a 403
// DENIED). New reports such an anonymous refusal with MaybeNotFound set and a
// message that says "does not exist or requires authentication", keeping the
// registry's status: Unauthorized for a 401 (insufficient_scope included),
// Denied for an explicit 403. The
// engine tells New whether credentials were sent, per candidate
// (CandidateError.Authenticated) or for the whole pull (WithAuthenticated);
// with credentials, a DENIED answer stays Denied and the message says access
// was denied for the given credentials.
//
// When a pull fails on several candidates, the kinds are combined by one
// precedence table (Precedence): the most informative kind wins, so a
// NotFound on one registry and Unavailable on another is Unavailable.
//
// # Marking errors at the source
//
// Code that knows the kind of an error it creates marks it with Errorf (a
// new message) or Wrap (an error of its own, such as a type callers reach
// with errors.As); such a mark decides the kind before anything else in the
// chain is looked at. This module marks every error that way. A sentinel
// wrapped with %w (fmt.Errorf("...: %w", ErrNotFound)) is classified the
// same, for code outside the module; inside, the sentinels are for
// errors.Is.
// Fault-handling code that sees a Retry-After header attaches it with
// WithRetryAfter (ParseRetryAfter reads both header forms).
package pullerrors
