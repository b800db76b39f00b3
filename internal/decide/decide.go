// Package decide is the pull policy's decision table: for a policy and
// what the engine found (a local image, corrupted or not, an ID, a pinned
// platform, the kind of request), the action a pull takes. It is the one
// place a pull decides, pure and table-tested; the engine gathers the
// Situation and acts. The policy type itself, and its parsing, are the
// public package policy.
package decide

import "github.com/pullengine/pullengine/policy"

// Action is what a pull does, as decided by Decide.
type Action int

// The actions of the decision table.
const (
	// UseLocal returns the local image without touching the network.
	UseLocal Action = iota
	// Pull copies from the registry.
	Pull
	// PullIfNewer asks the registry for the digest, copies only when it
	// differs from the local image's, and falls back to the local image when
	// the registry fails.
	PullIfNewer
	// FailNotLocal fails with "image not known": the policy forbids the
	// network (Never) or the input is an image ID, which only names local
	// images.
	FailNotLocal
	// FailAlwaysByID fails: Always cannot pull an image named by its ID.
	FailAlwaysByID
	// FailNeedsRegistry fails: the request can only be served by the
	// registry (all tags, several platforms) and the policy is Never.
	FailNeedsRegistry
)

var actionNames = [...]string{
	UseLocal:          "use-local",
	Pull:              "pull",
	PullIfNewer:       "pull-if-newer",
	FailNotLocal:      "fail-not-local",
	FailAlwaysByID:    "fail-always-by-id",
	FailNeedsRegistry: "fail-needs-registry",
}

// String returns a stable lowercase name for the action, e.g. "pull-if-newer".
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return "unknown"
	}
	return actionNames[a]
}

// ReasonPlatformPinned is the PolicyReason reported when a pinned platform
// turns Missing into Newer.
const ReasonPlatformPinned = "a platform was requested: a local image's declared platform cannot be trusted (many images declare a wrong one), so the registry is asked whether the image for that platform differs"

// Effective returns the policy a pull applies and, when it differs from p,
// why. Default becomes Missing; a pinned platform turns Missing into Newer
// and leaves Always, Newer and Never alone (Never keeps its promise of no
// network even then).
func Effective(p policy.Policy, platformPinned bool) (policy.Policy, string) {
	if p == policy.Default {
		p = policy.Missing
	}
	if platformPinned && p == policy.Missing {
		return policy.Newer, ReasonPlatformPinned
	}
	return p, ""
}

// Request is the kind of pull that asks for a decision.
type Request int

// The kinds of pull.
const (
	// RequestOne pulls one registry name or image ID: the table below.
	RequestOne Request = iota
	// RequestAllTags lists a repository's tags (each tag is then decided
	// as RequestOne): only the registry can list them.
	RequestAllTags
	// RequestPlatforms stores a manifest list and its instances: only the
	// registry has the list.
	RequestPlatforms
	// RequestTransport copies from a non-registry source (an archive, a
	// layout, a store, a daemon): a local read, which every policy allows.
	RequestTransport
)

// Situation is what the engine found, the input of Decide. The zero value
// of each field is the plain case: one registry name, nothing local.
type Situation struct {
	// Policy is the policy asked (Default counts as Missing).
	Policy policy.Policy
	// Request is the kind of pull.
	Request Request
	// LocalFound: an image exists locally under the name (or ID) asked.
	LocalFound bool
	// LocalCorrupted: that image cannot be read (e.g. a layer is
	// missing); it counts as absent, so a pull repairs it.
	LocalCorrupted bool
	// ByID: the input is an image ID, which names local images only.
	ByID bool
	// PlatformPinned: the pull pins a platform (PullOptions.Platform or
	// the SystemContext choices); see Effective.
	PlatformPinned bool
}

// Decide is the single place where a pull decides what to do, from the
// situation the engine found.
//
// A request for all tags or several platforms needs the registry: Never
// refuses it (FailNeedsRegistry), every other policy pulls (tags already
// stored are then decided one by one; instances already stored are reused
// layer by layer). A non-registry source is always copied (Pull), whatever
// the policy: it is read locally, and layers already stored are reused.
//
// One registry name or ID follows the table, with usable = LocalFound &&
// !LocalCorrupted:
//
//	policy   usable  byID   action
//	never    yes     any    UseLocal
//	never    no      any    FailNotLocal
//	always   any     yes    FailAlwaysByID
//	always   any     no     Pull
//	missing  yes     any    UseLocal
//	missing  no      yes    FailNotLocal
//	missing  no      no     Pull
//	newer    yes     yes    UseLocal
//	newer    yes     no     PullIfNewer
//	newer    no      yes    FailNotLocal
//	newer    no      no     Pull
//
// Missing with a pinned platform behaves as newer. An invalid policy value
// behaves as Missing; the engine rejects it with Validate before deciding.
func Decide(s Situation) Action {
	effective, _ := Effective(s.Policy, s.PlatformPinned)
	switch s.Request {
	case RequestTransport:
		return Pull
	case RequestAllTags, RequestPlatforms:
		if effective == policy.Never {
			return FailNeedsRegistry
		}
		return Pull
	}
	usable := s.LocalFound && !s.LocalCorrupted
	switch effective {
	case policy.Never:
		if usable {
			return UseLocal
		}
		return FailNotLocal
	case policy.Always:
		if s.ByID {
			return FailAlwaysByID
		}
		return Pull
	case policy.Newer:
		switch {
		case usable && s.ByID:
			return UseLocal
		case usable:
			return PullIfNewer
		}
	default: // Missing
		if usable {
			return UseLocal
		}
	}
	if s.ByID {
		return FailNotLocal
	}
	return Pull
}
