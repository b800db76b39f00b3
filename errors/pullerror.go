package pullerrors

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
)

// PullError is the error Pull returns: the input, the kind, and every
// candidate reference tried with its own error.
//
// errors.Is(err, ErrNotFound) (and every other sentinel) is true when Kind is
// that sentinel's kind, and errors.Is / errors.As also reach the underlying
// errors, so storage.ErrImageUnknown, errcode.ErrorCoder or
// docker.UnexpectedHTTPStatusError still match through a *PullError.
//
// Error is one line: "pulling <reference>: <what went wrong>: <the underlying
// errors, the registry's own words last>". Credentials never appear in it
// (they are redacted); the same holds for %v, %+v, %q and slog output.
//
// Build one with New; set the fields directly only when constructing a value
// for a test.
type PullError struct {
	// Name is the image name as the caller gave it, e.g. "fedora" or
	// "quay.io/foo/bar:1".
	Name string
	// Kind is the class of the failure, decided by New.
	Kind Kind
	// Candidates are the fully-qualified references tried, in order, each with
	// its own error. Empty when the pull failed before any was tried.
	Candidates []CandidateError
	// Err is the underlying error: for a pull with candidates, normally the
	// aggregate of their errors (as shortnames' FormatPullErrors builds it) or
	// an error of the pull as a whole, such as its context's.
	Err error
	// MaybeNotFound is set when the registry refused an anonymous request
	// for the repository (a 401, DENIED from an insufficient_scope
	// challenge, or an explicit 403 DENIED). Registries such as Docker Hub,
	// quay.io, Harbor and Google Artifact Registry answer that way both for
	// a private repository and for one that does not exist, so the image
	// may simply not exist; the message then says "does not exist or
	// requires authentication". Kind keeps the status the registry gave:
	// Unauthorized (401) for a 401, Denied (403) for an explicit 403.
	MaybeNotFound bool
	// Authenticated records that credentials were sent for the pull as a
	// whole (see WithAuthenticated): the engine sets it for a refusal that
	// came before any candidate (a tag list), asking of the name what it
	// asks of each candidate (CandidateError.Authenticated). A registry's
	// refusal then means the given credentials are not allowed, and the
	// message says so.
	Authenticated bool

	// errDecides is set when Kind came from Err rather than the candidates.
	errDecides bool
}

// CandidateError is one candidate reference of a pull (a short name
// expands to one candidate per unqualified-search registry) and its
// failure. In engine.Result.Candidates, which lists every candidate tried,
// the one that succeeded has a nil Err.
type CandidateError struct {
	// Name is the fully-qualified reference tried, e.g.
	// "docker.io/library/fedora:latest".
	Name string
	// Err is the error pulling Name failed with.
	Err error
	// Authenticated records that credentials were sent to the registry
	// Name is pulled from (after a registries.conf location rewrite): the
	// pull's explicit credentials when the rewrite keeps Name's registry,
	// else an entry for that registry in the auth file (AuthFilePath,
	// RegistryCredentials) or a credential helper. It decides whether a
	// registry's refusal means "does not exist or requires authentication"
	// (anonymous) or "access denied for the given credentials".
	Authenticated bool
}

// Error returns "<name>: <error>" on one line, redacted, without control
// characters, the error's text cut at 4 KiB.
func (c CandidateError) Error() string {
	msg := safetext.Clean(errorText(c.Err), safetext.MaxErrorText)
	if c.Name != "" {
		msg = safetext.Clean(c.Name, safetext.MaxErrorText) + ": " + msg
	}
	return msg
}

// Unwrap returns the candidate's error.
func (c CandidateError) Unwrap() error { return c.Err }

// MarshalJSON writes {"name", "error"}: the error as its message, left out
// when the candidate succeeded.
func (c CandidateError) MarshalJSON() ([]byte, error) {
	v := struct {
		Name  string `json:"name"`
		Error string `json:"error,omitempty"`
	}{Name: c.Name}
	if c.Err != nil {
		v.Error = c.Err.Error()
	}
	return json.Marshal(v)
}

// New classifies a failed pull of name.
//
// Without candidates, err decides the kind. With candidates, each candidate's
// error is classified and the kinds are combined by precedence (see
// Precedence); err then only decides when it is a cancellation or a timeout
// (the caller's context may have stopped the pull before every candidate
// ran), or when it carries an explicit kind (Wrap, a sentinel) on its own
// chain, which then decides whatever the candidates say. Candidates whose Err is nil are ignored for the kind.
//
// A refusal by a registry (UNAUTHORIZED or DENIED error codes, a 401 or 403
// status) on a candidate that was not Authenticated sets MaybeNotFound. Its
// kind follows the registry's status: an explicit 403 (a DENIED code from the
// registry's body, whatever its message, a bare 403 status) stays Denied; a
// 401, and the DENIED that containers/image makes of a 401 insufficient_scope
// challenge (Docker Hub's answer for a missing or private repository: the
// default message, no detail), is Unauthorized. The engine sets
// CandidateError.Authenticated for each failed candidate to whether it sent
// credentials to that candidate's registry, and calls WithAuthenticated
// only for a refusal before any candidate, with the same answer for the
// name.
//
// Errors whose text is longer than 4 KiB are replaced by bounded copies of
// them, so a PullError never holds a registry's huge error body.
//
// New stays exported because PullError is a public type: code that answers
// for a pull (httpapi, a user's handler or its tests) builds one with the
// same kind, MaybeNotFound and bounds as the engine's.
func New(name string, err error, candidates ...CandidateError) *PullError {
	e := &PullError{Name: name, Err: bound(err), Candidates: slices.Clone(candidates)}
	for i := range e.Candidates {
		e.Candidates[i].Err = bound(e.Candidates[i].Err)
	}
	e.classify()
	return e
}

// WithAuthenticated records whether credentials were sent for this pull (to
// every candidate's registry), re-derives Kind and MaybeNotFound, and returns
// e. The engine uses it when no candidate was tried; with candidates it sets
// each CandidateError.Authenticated instead, since only some registries may
// have had credentials.
func (e *PullError) WithAuthenticated(authenticated bool) *PullError {
	e.Authenticated = authenticated
	for i := range e.Candidates {
		e.Candidates[i].Authenticated = authenticated
	}
	e.classify()
	return e
}

// classify sets Kind, MaybeNotFound and errDecides from Err and Candidates.
func (e *PullError) classify() {
	e.errDecides = false
	var failed []CandidateError
	for _, c := range e.Candidates {
		if c.Err != nil {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		e.Kind, e.MaybeNotFound = refine(Classify(e.Err), e.Err, e.Authenticated)
		e.errDecides = e.Err != nil
		return
	}

	kinds := make([]Kind, len(failed))
	maybe := make([]bool, len(failed))
	best := InvalidReference // the lowest in precedence
	for i, c := range failed {
		kinds[i], maybe[i] = refine(Classify(c.Err), c.Err, c.Authenticated || e.Authenticated)
		if i == 0 || moreInformative(kinds[i], best) {
			best = kinds[i]
		}
	}
	if e.Err != nil {
		if k, marked := topMarkedKind(e.Err); marked {
			best, e.errDecides = k, true
		} else if k := Classify(e.Err); (k == Canceled || k == Timeout) && moreInformative(k, best) {
			best, e.errDecides = k, true
		}
	}
	e.Kind = best
	// MaybeNotFound holds when every candidate that ended Unauthorized was an
	// anonymous refusal; one rejection of real credentials outweighs it.
	e.MaybeNotFound = false
	if (best == Unauthorized || best == Denied) && !e.errDecides {
		e.MaybeNotFound = true
		for i := range failed {
			if kinds[i] == best && !maybe[i] {
				e.MaybeNotFound = false
			}
		}
	}
}

// refine adjusts the kind of one candidate's error for what the engine knows
// about credentials: an anonymous refusal by a registry has the MaybeNotFound
// hint, and a DENIED made from a 401 insufficient_scope challenge is
// Unauthorized, as the registry's status was.
func refine(k Kind, err error, authenticated bool) (Kind, bool) {
	if (k == Unauthorized || k == Denied) && !authenticated && registryRefusal(err) {
		if k == Denied && !explicitForbidden(err) {
			return Unauthorized, true
		}
		return k, true
	}
	return k, false
}

// explicitForbidden reports whether a refusal is the registry's own 403: a
// 403 status, or a DENIED error code read from the registry's body.
//
// containers/image turns a 401 with an insufficient_scope challenge
// (Docker Hub's answer for a missing or private repository) into an
// errcode.Error{DENIED} it builds itself: the challenge's error_description
// or the code's default message, and never a detail; of the body's errors
// (UNAUTHORIZED) it keeps only that first one. A DENIED from a body is
// either a bare errcode.ErrorCode (errcode.Errors' decoding makes one of an
// error with no detail and the default or no message) or an errcode.Error
// with a detail (quay writes "detail":{} on every error) or a message of
// the registry's own. So a DENIED errcode.Error with no detail and the
// default message is the 401 challenge; every other DENIED is a 403. (A
// challenge with an error_description cannot be told from a body's DENIED
// with its own message and no detail, and counts as a 403.)
func explicitForbidden(err error) bool {
	return walk(err, func(e error) bool {
		switch v := e.(type) {
		case errcode.ErrorCode:
			return v == errcode.ErrorCodeDenied
		case errcode.Error:
			return v.Code == errcode.ErrorCodeDenied && (v.Detail != nil || (v.Message != "" && v.Message != v.Code.Message()))
		case docker.UnexpectedHTTPStatusError:
			return v.StatusCode == 403
		case *docker.UnexpectedHTTPStatusError:
			return v != nil && v.StatusCode == 403
		}
		if branches, next := unwrap(e); next == nil && branches == nil {
			if m := unexpectedResponse.FindStringSubmatch(errorText(e)); m != nil {
				return m[1] == "403"
			}
		}
		return false
	})
}

// registryRefusal reports whether err holds a registry's answer that
// access to a repository is refused: an UNAUTHORIZED or DENIED error code
// (c/image turns a 401 with an insufficient_scope challenge into DENIED), or a
// 401/403 status from the registry or its token endpoint. Bad credentials at
// the token endpoint (docker.ErrUnauthorizedForCredentials) and signature
// policy rejections are not: they are not about the repository's existence.
func registryRefusal(err error) bool {
	return walk(err, func(e error) bool {
		switch v := e.(type) {
		case docker.ErrUnauthorizedForCredentials, *docker.ErrUnauthorizedForCredentials,
			signature.PolicyRequirementError, *signature.PolicyRequirementError:
			return false
		case errcode.ErrorCoder:
			c := v.ErrorCode()
			return c == errcode.ErrorCodeUnauthorized || c == errcode.ErrorCodeDenied
		case docker.UnexpectedHTTPStatusError:
			return v.StatusCode == 401 || v.StatusCode == 403
		case *docker.UnexpectedHTTPStatusError:
			return v != nil && (v.StatusCode == 401 || v.StatusCode == 403)
		}
		if branches, next := unwrap(e); next == nil && branches == nil {
			if m := unexpectedResponse.FindStringSubmatch(errorText(e)); m != nil {
				return m[1] == "401" || m[1] == "403"
			}
		}
		return false
	})
}

// Error returns the one-line, redacted message: what failed and the
// reference first, the registry's own words last. Control characters are
// escaped; each underlying error's text is cut at 4 KiB and the whole
// message at 16 KiB, ending in "…(truncated)".
func (e *PullError) Error() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString("pulling ")
	b.WriteString(e.subject())
	summary := e.summary()
	detail := e.detail()
	switch {
	case summary != "" && detail != "":
		b.WriteString(": " + summary + ": " + detail)
	case summary != "":
		b.WriteString(": " + summary)
	case detail != "":
		b.WriteString(": " + detail)
	default:
		b.WriteString(": failed")
	}
	return safetext.Truncate(safetext.Escape(safetext.Redact(safetext.OneLine(b.String()))), safetext.MaxMessage)
}

// subject names what was being pulled.
func (e *PullError) subject() string {
	name := e.Name
	if len(e.Candidates) == 1 {
		c := e.Candidates[0].Name
		switch {
		case name == "":
			name = c
		case c != "" && c != name:
			name += " (" + c + ")"
		}
	}
	if name == "" {
		name = "image"
	}
	return name
}

// summary says in a few words what went wrong.
func (e *PullError) summary() string {
	authenticated := e.Authenticated
	for _, c := range e.Candidates {
		authenticated = authenticated || (c.Authenticated && c.Err != nil)
	}
	var s string
	switch e.Kind {
	case InvalidReference:
		s = "invalid reference"
	case InvalidArgument:
		s = "invalid argument"
	case NotFound:
		s = "image not found"
	case PlatformNotFound:
		s = "no image for the requested platform"
	case Unauthorized:
		switch {
		case e.MaybeNotFound:
			s = "repository does not exist or requires authentication"
		case authenticated:
			s = "authentication failed with the given credentials"
		default:
			s = "authentication required"
		}
	case Denied:
		switch {
		case chainHasPolicyRejection(e):
			s = "rejected by the signature policy"
		case e.MaybeNotFound:
			s = "access denied: repository does not exist or requires authentication"
		case authenticated:
			s = "access denied for the given credentials"
		default:
			s = "access denied"
		}
	case RateLimited:
		s = "rate limited by the registry" // a RetryAfterError's delay is in the detail
	case Unavailable:
		s = "registry unavailable"
	case Timeout:
		s = "timed out"
	case Canceled:
		s = "canceled"
	case Integrity:
		s = "integrity check failed"
	case Decryption:
		s = "decryption failed"
	case TLS:
		s = "TLS error"
	case Unsupported:
		s = "unsupported"
	case Storage:
		if diskFull(e) {
			s = "local storage is full"
		} else {
			s = "local storage failed"
		}
	case Internal:
		s = ""
	}
	if n := failedCandidates(e.Candidates); n > 1 && s != "" {
		s += " (" + strconv.Itoa(n) + " candidates tried)"
	}
	return s
}

// detail is the underlying errors' text.
func (e *PullError) detail() string {
	var parts []string
	var errText string
	if e.Err != nil && (e.errDecides || failedCandidates(e.Candidates) == 0) {
		errText = safetext.Clean(errorText(e.Err), safetext.MaxErrorText)
		parts = append(parts, errText)
	}
	// A candidate whose error is the one already said is not said again.
	said := func(err error) bool {
		return errText != "" && (err == e.Err || safetext.Clean(errorText(err), safetext.MaxErrorText) == errText)
	}
	if n := failedCandidates(e.Candidates); n == 1 && len(e.Candidates) == 1 {
		// The candidate's name is already in the subject.
		if c := e.Candidates[0]; !said(c.Err) {
			parts = append(parts, safetext.Clean(errorText(c.Err), safetext.MaxErrorText))
		}
	} else {
		for _, c := range e.Candidates {
			if c.Err != nil && !said(c.Err) {
				parts = append(parts, c.Error())
			}
		}
	}
	return strings.Join(parts, "; ")
}

func failedCandidates(cs []CandidateError) int {
	n := 0
	for _, c := range cs {
		if c.Err != nil {
			n++
		}
	}
	return n
}

func chainHasPolicyRejection(err error) bool {
	return walk(err, func(e error) bool {
		switch e.(type) {
		case signature.PolicyRequirementError, *signature.PolicyRequirementError:
			return true
		}
		return false
	})
}

// Unwrap returns Err and every candidate's error, so that errors.Is and
// errors.As reach them.
func (e *PullError) Unwrap() []error {
	if e == nil {
		return nil
	}
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	for _, c := range e.Candidates {
		if c.Err != nil {
			errs = append(errs, c.Err)
		}
	}
	return errs
}

// Is reports whether target is the sentinel of e's kind (ErrNotFound for a
// NotFound error, ...). errors.Is also looks into the underlying errors
// through Unwrap.
func (e *PullError) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && e != nil && Kind(s) == e.Kind
}

// Format implements fmt.Formatter so that no verb prints the raw, unredacted
// underlying errors: %s and %v print Error(); %+v adds the kind, the HTTP
// status and the MaybeNotFound hint; %q quotes Error(); %#v prints the fields
// with the errors as redacted text.
func (e *PullError) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, e.goString())
	case verb == 'v' && f.Flag('+'):
		io.WriteString(f, e.Error())
		if e != nil {
			fmt.Fprintf(f, " (kind=%s, status=%d", e.Kind, HTTPStatus(e))
			if e.MaybeNotFound {
				io.WriteString(f, ", maybe-not-found")
			}
			io.WriteString(f, ")")
		}
	case verb == 'q':
		io.WriteString(f, strconv.Quote(e.Error()))
	default:
		io.WriteString(f, e.Error())
	}
}

func (e *PullError) goString() string {
	if e == nil {
		return "(*pullerrors.PullError)(nil)"
	}
	var cs []string
	for _, c := range e.Candidates {
		cs = append(cs, fmt.Sprintf("{Name:%q, Err:%q, Authenticated:%t}",
			safetext.Clean(c.Name, safetext.MaxErrorText), safetext.Clean(errorText(c.Err), safetext.MaxErrorText), c.Authenticated))
	}
	return fmt.Sprintf("&pullerrors.PullError{Name:%q, Kind:%s, Candidates:[%s], Err:%q, MaybeNotFound:%t, Authenticated:%t}",
		safetext.Clean(e.Name, safetext.MaxErrorText), e.Kind, strings.Join(cs, ", "), safetext.Clean(errorText(e.Err), safetext.MaxErrorText), e.MaybeNotFound, e.Authenticated)
}

// LogValue implements slog.LogValuer: a group with the kind, the HTTP status,
// the input name and the (redacted) message, never the raw underlying errors.
func (e *PullError) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("<nil>")
	}
	attrs := []slog.Attr{
		slog.String("kind", e.Kind.String()),
		slog.Int("status", HTTPStatus(e)),
		slog.String("name", safetext.Clean(e.Name, safetext.MaxErrorText)),
		slog.String("msg", e.Error()),
	}
	if e.MaybeNotFound {
		attrs = append(attrs, slog.Bool("maybeNotFound", true))
	}
	return slog.GroupValue(attrs...)
}

// Wrap marks err with kind at its source: Classify(Wrap(k, err)) is k,
// whatever err holds, and errors.Is(Wrap(k, err), k.Sentinel()) is true;
// errors.Is and errors.As still reach err. The message is err's. Wrap(k, nil)
// is nil. A kind outside the declared ones counts as Internal.
//
// Wrap and Errorf are exported, unlike the engine's other constructors
// (internal/engineerr), because errors are made outside the engine too:
// the public packages platform, policy and httpapi, and a user's own code
// (a handler around httpapi, a wrapper of Engine.Pull) mark the kind of
// the errors they return so that Classify, HTTPStatus and Retryable answer
// for them as for the engine's.
func Wrap(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// Errorf is fmt.Errorf (%w included) marked with kind, as by Wrap.
func Errorf(kind Kind, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

// kindError is an error marked with a kind by Wrap or Errorf.
type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }

// Unwrap returns the kind's sentinel and the wrapped error, so errors.Is
// matches both.
func (e *kindError) Unwrap() []error { return []error{e.kind.Sentinel(), e.err} }

// diskFull reports whether err's tree holds ENOSPC or EDQUOT.
func diskFull(err error) bool {
	return walk(err, func(e error) bool { return isDiskFullErrno(e) })
}
