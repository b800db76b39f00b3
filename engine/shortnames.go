package engine

// Short names: the registry names a pull tries, resolved through
// registries.conf without ever prompting.

import (
	"fmt"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// pullCandidates lists the registry names to try. A name that matched a
// local image is pulled under that name only (no fan-out), unless a
// platform was asked: then the local image's name says nothing about the
// platform's image and the name is resolved afresh.
func (st *pullState) pullCandidates(loc *local) ([]reference.Named, error) {
	in := st.in
	if loc != nil && loc.name != "" && st.pinned == nil {
		named, err := reference.ParseNormalizedNamed(loc.name)
		if err != nil {
			return nil, invalidReference(loc.name, err)
		}
		return []reference.Named{named}, nil
	}
	if in.qualified {
		named, err := in.qualifiedName()
		if err != nil {
			return nil, err
		}
		return []reference.Named{named}, nil
	}
	names, how, err := resolveShortName(&st.sys, in.name)
	if how != "" {
		// What libimage writes to the pull's output before the first
		// candidate ("Resolved "alpine" as an alias (...)").
		st.rep.Emit(progress.Event{Kind: progress.Resolving, Ref: st.shown(), Message: how})
	}
	return names, err
}

// resolveShortName resolves a (possibly short) name through registries.conf
// without ever prompting: an embedded library has no terminal to ask on.
// Enforcing mode with several candidates is an error naming them. how says
// how the name was resolved (an alias, the unqualified-search
// registries), "" when there is nothing to say.
func resolveShortName(sys *types.SystemContext, name string) (names []reference.Named, how string, err error) {
	mode, err := sysregistriesv2.GetShortNameMode(sys)
	if err != nil {
		return nil, "", fmt.Errorf("reading short-name mode: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	noPrompt := *sys
	disabled := types.ShortNameModeDisabled
	noPrompt.ShortNameMode = &disabled
	resolved, err := shortnames.Resolve(&noPrompt, name)
	if err != nil {
		return nil, "", fmt.Errorf("resolving short name %q: %w", name, pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	for _, c := range resolved.PullCandidates {
		names = append(names, c.Value)
	}
	if mode == types.ShortNameModeEnforcing && len(names) > 1 {
		list := make([]string, len(names))
		for i, n := range names {
			list[i] = n.String()
		}
		return nil, "", pullerrors.Errorf(pullerrors.InvalidReference, "short name %q is ambiguous and short-name-mode is enforcing: it could be any of %s; use a fully qualified name or add an alias in registries.conf",
			name, strings.Join(list, ", "))
	}
	return names, resolved.Description(), nil
}
