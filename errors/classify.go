package pullerrors

import "github.com/docker/distribution/registry/api/errcode"

// Classify returns the kind of err.
//
// It looks through the whole error tree: single wrapping (Unwrap() error),
// joined and multi-candidate errors (Unwrap() []error, as errors.Join and
// c/image's short-name resolution build them) and errcode.Errors. The rules,
// in order:
//
//  1. A kind decided at the source wins: a *PullError, a sentinel of this
//     package (ErrNotFound, ...) or an error made by Wrap or Errorf. Along one
//     chain of wrapping the outermost such mark decides. A bare sentinel
//     given next to the error it annotates (fmt.Errorf("%w: %w", ErrNotFound,
//     err)) marks that error too; a marked error joined with other failures
//     (errors.Join(Wrap(NotFound, a), b)) is one branch among others.
//  2. Otherwise the first error along the chain that is recognised for certain
//     decides: context.Canceled and context.DeadlineExceeded, registry error
//     codes (errcode.ErrorCoder: bare errcode.ErrorCode and errcode.Error),
//     c/image's docker errors (ErrUnauthorizedForCredentials,
//     ErrTooManyRequests, UnexpectedHTTPStatusError), x509 and TLS errors,
//     DNS errors, system call errors (errno), signature policy rejections,
//     and the sentinel errors of c/storage, c/image and the reference parser.
//     sources.go lists them all with their kinds.
//  3. Generic transport wrappers (*url.Error, *net.OpError, other net.Error)
//     only decide when nothing more specific lies below them: a *url.Error
//     around an x509 error is TLS, around anything unknown it is Unavailable.
//  4. The text of the innermost error, for the errors c/image and the
//     standard library create with fmt.Errorf or errors.New and no exported
//     type ("no image found in manifest list for architecture ...",
//     "Digest did not match ...", "http: server gave HTTP response to HTTPS
//     client", ...).
//
// Where the tree branches, each branch is classified on its own and the
// branches are combined by precedence (see Precedence). A branch nothing
// recognises counts as Internal.
//
// Classify(nil) is Internal: a nil error has no kind, and callers test for
// nil first. HTTPStatus(nil) is 200.
func Classify(err error) Kind {
	if err == nil {
		return Internal
	}
	w := walker{budget: maxNodes}
	k, _ := w.classify(err)
	return k
}

// precedence is the table of Precedence: the kind listed first wins.
var precedence = [...]Kind{
	Canceled,         // the caller stopped the pull: nothing else matters
	Timeout,          // the caller's deadline (or a request's) expired before an answer
	Storage,          // the image was fetched but the local store failed
	Integrity,        // the image exists, but its data arrived corrupt
	Decryption,       // the image exists, but no key given opens its encrypted layers
	TLS,              // that registry could not be talked to securely; the image may be there
	RateLimited,      // that registry asked to slow down; the image may be there
	Unavailable,      // that registry could not answer; the image may be there
	Denied,           // that registry refused access (or the signature policy refused the image)
	Unauthorized,     // that registry wants (other) credentials; the image may be there
	Internal,         // an unclassified failure: unknown, so never reported as NotFound
	PlatformNotFound, // the image exists, but not for the requested platform
	NotFound,         // the image is not there
	Unsupported,      // that source cannot do what was asked
	InvalidArgument,  // an option is wrong
	InvalidReference, // the name is not valid at that registry
}

// Precedence returns the kinds ordered from the one that wins to the one that
// loses when an error holds several failures: joined errors, one error per
// short-name candidate, several registry error codes in one response.
// Classify and New use this one table:
//
//	Canceled          the caller stopped the pull: nothing else matters
//	Timeout           the caller's deadline (or a request's) expired
//	Storage           the image was fetched but the local store failed
//	Integrity         the image exists, but its data arrived corrupt
//	Decryption        the image exists, but no key given opens its layers
//	TLS               that registry could not be talked to securely
//	RateLimited       that registry asked to slow down
//	Unavailable       that registry could not answer
//	Denied            that registry (or the signature policy) refused
//	Unauthorized      that registry wants (other) credentials
//	Internal          an unclassified failure
//	PlatformNotFound  the image exists, but not for the platform
//	NotFound          the image is not there
//	Unsupported       that source cannot do what was asked
//	InvalidArgument   an option is wrong
//	InvalidReference  the name is not valid at that registry
//
// The principle is "the most informative kind wins": the caller's own
// cancellation or deadline first; then failures that happened after the
// image was found, or that leave open whether it exists (a registry that
// could not be reached, asked to slow down, or wants credentials); then
// definitive absences; last, answers that say the name could never work at
// that registry. So a NotFound on one registry and Unavailable on another is
// Unavailable (the image may be on the second), Unauthorized and Denied beat
// NotFound, and NotFound is reported only when every candidate said so (or
// said something less informative, such as NAME_INVALID). An unclassified
// failure ranks above NotFound for the same reason.
func Precedence() []Kind {
	return append([]Kind(nil), precedence[:]...)
}

// rank[k] is k's position in precedence counted from the bottom: higher wins.
var rank = func() (r [numKinds]int) {
	for i, k := range precedence {
		r[k] = len(precedence) - i
	}
	return r
}()

// moreInformative reports whether kind a wins over kind b.
func moreInformative(a, b Kind) bool { return rank[a] > rank[b] }

// maxNodes bounds the number of errors Classify visits, so that a
// pathological (very deep, very wide or cyclic) error tree cannot make it
// loop or recurse without end.
const maxNodes = 4096

type walker struct{ budget int }

// spend accounts for one visited node and reports whether the budget allowed it.
func (w *walker) spend() bool {
	if w.budget <= 0 {
		return false
	}
	w.budget--
	return true
}

// classify returns the kind of err and whether anything in it was recognised.
func (w *walker) classify(err error) (Kind, bool) {
	// Rule 1: a kind decided at the source, anywhere on the linear chain.
	for e := err; e != nil && w.spend(); {
		if k, ok := markedKind(e); ok {
			return k, true
		}
		branches, next := unwrap(e)
		if branches != nil {
			// fmt.Errorf("%w: %w", ErrNotFound, err): a bare sentinel next to
			// the error it annotates marks the whole error.
			if k, ok := annotatingSentinel(branches); ok {
				return k, true
			}
			break
		}
		e = next
	}

	// Rules 2-4 along the chain; a branching point ends the chain.
	fallbackKind, haveFallback := Internal, false
	for e := err; e != nil && w.spend(); {
		m := recognize(e)
		switch m.strength {
		case strong:
			return m.kind, true
		case weak:
			if !haveFallback {
				fallbackKind, haveFallback = m.kind, true
			}
		}
		branches, next := unwrap(e)
		if branches != nil {
			if k, ok := w.combine(branches); ok {
				return k, true
			}
			break
		}
		if next == nil {
			if k, ok := matchText(e); ok {
				return k, true
			}
		}
		e = next
	}
	return fallbackKind, haveFallback
}

// combine classifies each branch and returns the winning kind by precedence;
// unrecognised branches count as Internal. ok is false when no branch was
// recognised at all.
func (w *walker) combine(branches []error) (Kind, bool) {
	best, found := Internal, false
	for i, b := range branches {
		if w.budget <= 0 {
			break
		}
		k, ok := w.classify(b) // unrecognised: Internal
		found = found || ok
		if i == 0 || moreInformative(k, best) {
			best = k
		}
	}
	return best, found
}

// unwrap returns the next error in a linear chain, or the branches of a
// joined error (errors.Join, fmt.Errorf with several %w, errcode.Errors).
//
// A panicking Unwrap method (a typed nil pointer) ends the chain.
func unwrap(err error) (branches []error, next error) {
	defer func() {
		if recover() != nil {
			next, branches = nil, nil
		}
	}()
	switch e := err.(type) {
	case errcode.Errors:
		if len(e) == 0 {
			return nil, nil
		}
		return nonNil(e), nil
	case interface{ Unwrap() []error }:
		bs := nonNil(e.Unwrap())
		if len(bs) == 0 {
			return nil, nil
		}
		return bs, nil
	case interface{ Unwrap() error }:
		return nil, e.Unwrap()
	}
	return nil, nil
}

func nonNil(errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// markedKind returns the kind of an error that carries one explicitly: a
// *PullError, a sentinel of this package or a Wrap/Errorf error.
func markedKind(err error) (Kind, bool) {
	k, ok := markedKindRaw(err)
	if ok && !k.valid() {
		k = Internal // a Kind field or Wrap argument outside the declared kinds
	}
	return k, ok
}

func markedKindRaw(err error) (Kind, bool) {
	switch e := err.(type) {
	case sentinel:
		return Kind(e), true
	case *kindError:
		if e != nil {
			return e.kind, true
		}
	case *PullError:
		if e != nil {
			return e.Kind, true
		}
	}
	return Internal, false
}

// annotatingSentinel returns the kind of the bare sentinels among the
// branches of a joined error (by precedence if there are several).
func annotatingSentinel(branches []error) (Kind, bool) {
	best, found := Internal, false
	for _, b := range branches {
		if s, ok := b.(sentinel); ok && (!found || moreInformative(Kind(s), best)) {
			best, found = Kind(s), true
		}
	}
	return best, found
}

// topMarkedKind returns the explicit kind on err's linear chain (not inside
// its branches), if any.
func topMarkedKind(err error) (Kind, bool) {
	for e, n := err, 0; e != nil && n < maxNodes; n++ {
		if k, ok := markedKind(e); ok {
			return k, true
		}
		branches, next := unwrap(e)
		if branches != nil {
			return annotatingSentinel(branches)
		}
		e = next
	}
	return Internal, false
}

// walk calls visit on every error in err's tree, depth first, until visit
// returns true; it reports whether visit did.
func walk(err error, visit func(error) bool) bool {
	budget := maxNodes
	var rec func(error) bool
	rec = func(e error) bool {
		for e != nil {
			if budget--; budget < 0 {
				return false
			}
			if visit(e) {
				return true
			}
			branches, next := unwrap(e)
			for _, b := range branches {
				if rec(b) {
					return true
				}
			}
			e = next
		}
		return false
	}
	return rec(err)
}

// chainHas reports whether target itself (compared with ==, not with Is
// methods) occurs anywhere in err's tree. target must have a comparable
// dynamic type (every sentinel error value does), so == cannot panic.
func chainHas(err, target error) bool {
	return walk(err, func(e error) bool { return e == target })
}
