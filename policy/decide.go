package policy

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
)

var actionNames = [...]string{
	UseLocal:       "use-local",
	Pull:           "pull",
	PullIfNewer:    "pull-if-newer",
	FailNotLocal:   "fail-not-local",
	FailAlwaysByID: "fail-always-by-id",
}

// String returns a stable lowercase name for the action, e.g. "pull-if-newer".
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return "unknown"
	}
	return actionNames[a]
}

// ReasonCustomPlatform is the PolicyReason reported when a custom platform
// turns Missing into Newer.
const ReasonCustomPlatform = "a platform was requested: a local image's declared platform cannot be trusted (many images declare a wrong one), so the registry is asked whether the image for that platform differs"

// Effective returns the policy a pull applies and, when it differs from p,
// why. Default becomes Missing; a custom platform turns Missing into Newer
// and leaves Always, Newer and Never alone (Never keeps its promise of no
// network even then).
func Effective(p Policy, customPlatform bool) (Policy, string) {
	if p == Default {
		p = Missing
	}
	if customPlatform && p == Missing {
		return Newer, ReasonCustomPlatform
	}
	return p, ""
}

// Decide is the single place where a pull decides what to do. Its inputs are
// the situation the engine found:
//
//   - localFound: an image exists locally under the name (or ID) asked;
//   - localCorrupted: that image cannot be read (e.g. a layer is missing);
//     it counts as absent, so a pull repairs it;
//   - byID: the input is an image ID, which names local images only;
//   - customPlatform: a platform other than the default was asked (see
//     Effective).
//
// The table, with usable = localFound && !localCorrupted:
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
// Missing with a custom platform behaves as newer. An invalid policy value
// behaves as Missing; the engine rejects it with Validate before deciding.
func Decide(p Policy, localFound, localCorrupted, byID, customPlatform bool) Action {
	effective, _ := Effective(p, customPlatform)
	usable := localFound && !localCorrupted
	switch effective {
	case Never:
		if usable {
			return UseLocal
		}
		return FailNotLocal
	case Always:
		if byID {
			return FailAlwaysByID
		}
		return Pull
	case Newer:
		switch {
		case usable && byID:
			return UseLocal
		case usable:
			return PullIfNewer
		}
	default: // Missing
		if usable {
			return UseLocal
		}
	}
	if byID {
		return FailNotLocal
	}
	return Pull
}
