// Package policy holds the pull policy type and its parsing.
//
// A policy answers one question: when may a pull touch the registry?
//
//	Always   pull every time (layers already stored are reused)
//	Missing  pull only when no usable local image exists
//	Newer    pull when the registry has a different digest; on registry
//	         failure fall back to the local image
//	Never    never touch the network; fail when the image is not local
//
// Default, the zero value, stands for the host's containers.conf
// [engine] pull_policy, which is "missing" when unset. The engine resolves it
// before deciding.
//
// The decision table itself (what a pull does for a policy and the state of
// the local store) is the engine's, in internal/decide: pure, and tested
// cell by cell without a registry or a store. README's "Policies" section
// states it for users.
package policy

import (
	"fmt"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
)

// Policy is a pull policy. The zero value is Default.
type Policy int

// The pull policies. Their numeric values are not Podman's (whose zero value
// is Always); compare with the constants, never with numbers.
const (
	Default Policy = iota // containers.conf pull_policy; "missing" when unset
	Always                // pull every time
	Missing               // pull only when not present locally
	Newer                 // pull when the registry has a different digest
	Never                 // use the local image only
)

var policyNames = [...]string{
	Default: "default",
	Always:  "always",
	Missing: "missing",
	Newer:   "newer",
	Never:   "never",
}

// String returns the canonical lowercase spelling ("always", "missing",
// "newer", "never", or "default" for the zero value), which Parse accepts.
func (p Policy) String() string {
	if !p.valid() {
		return fmt.Sprintf("policy(%d)", int(p))
	}
	return policyNames[p]
}

func (p Policy) valid() bool { return p >= Default && p <= Never }

// Validate returns an InvalidArgument error for a value that is not one of
// the declared policies (e.g. Policy(42) built by a conversion).
func (p Policy) Validate() error {
	if p.valid() {
		return nil
	}
	return pullerrors.Errorf(pullerrors.InvalidArgument, "unsupported pull policy %d", int(p))
}

// spellings maps every accepted word to its policy: Podman's spellings
// (config.ParsePullPolicy) plus true/false as Docker and Buildah users type
// them (--pull=true, --pull=false).
var spellings = map[string]Policy{
	"":             Default,
	"default":      Default,
	"always":       Always,
	"true":         Always,
	"missing":      Missing,
	"ifmissing":    Missing,
	"ifnotpresent": Missing,
	"newer":        Newer,
	"ifnewer":      Newer,
	"never":        Never,
	"false":        Never,
}

// Accepted lists the spellings Parse accepts, for help texts and errors.
const Accepted = "always|true, missing|ifmissing|ifnotpresent, newer|ifnewer, never|false, or empty for the containers.conf default"

// Parse reads a policy as users type it, case-insensitively, ignoring
// surrounding spaces. The empty string is Default. Unknown words are an
// error wrapping pullerrors.ErrInvalidArgument that lists the accepted words.
func Parse(s string) (Policy, error) {
	p, ok := spellings[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return Default, pullerrors.Errorf(pullerrors.InvalidArgument, "unsupported pull policy %q (accepted: %s)", s, Accepted)
	}
	return p, nil
}

// MarshalText writes the canonical spelling, so a Policy reads well in JSON.
func (p Policy) MarshalText() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return []byte(p.String()), nil
}

// UnmarshalText accepts every spelling Parse accepts.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
