package engine

import (
	"fmt"

	"github.com/pullengine/pullengine/internal/decide"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/types"
)

// pullState is one Pull from its first step to its last: what was asked,
// the options that apply, where progress goes, and the Result being built.
// Its methods are the steps of the pull, in run()'s order: read the
// configuration → parse and normalize the name → resolve the options →
// look up the local image → decide → resolve the candidates → copy →
// report (doc.go maps them to files). The Engine keeps only what outlives
// a pull (store, configuration, shared transfers). A pullState belongs to
// one goroutine: a shared transfer gets a transferSpec (copy.go), never
// the pullState.
type pullState struct {
	e *Engine
	// name is the name as given; in is what parsing made of it.
	name string
	in   input
	// policy is the policy asked, Default resolved from containers.conf
	// once the configuration is read.
	policy policy.Policy
	// o is the caller's options, copied: Pull never writes to them.
	// resolveOptions (resolveoptions.go) checks them and sets the fields below
	// up to cfg; later steps read those and check nothing.
	o PullOptions
	// request is the kind of pull the input and options make.
	request decide.Request
	// sys is the Engine's SystemContext with the pull's options applied.
	sys types.SystemContext
	// pinned is the platform the pull asks for, nil when none was asked
	// (the host's platform is then used without filtering local images).
	pinned *platform.Platform
	// expected is the platform the pulled image should declare: pinned,
	// or the host's.
	expected platform.Platform
	// dec decrypts encrypted layers with the pull's keys (decrypt.go).
	dec decryption
	// retries is the retry budget of a failed copy.
	retries retrySettings
	// auth is the auth file written for RegistryCredentials, nil without
	// them; st.sys.AuthFilePath names it.
	auth *authFile
	// maxTags bounds the tags an AllTags pull accepts.
	maxTags int
	// cfg is the host configuration this pull applies.
	cfg *settings
	// rep receives the pull's progress events; counter sums what moved.
	rep     *report.Reporter
	counter *transferCounter
	// cleanups undo what resolving the options created (the auth file of
	// RegistryCredentials); Pull runs them when it returns.
	cleanups []func()
	// res is the Result being built, only by the methods in finish.go.
	res Result
}

// newPullState starts a pull: the options copied, progress wired.
func (e *Engine) newPullState(name string, p policy.Policy, opts *PullOptions) *pullState {
	st := &pullState{e: e, name: name, policy: p}
	if opts != nil {
		st.o = *opts
	}
	st.counter = &transferCounter{next: st.o.Progress}
	st.rep = report.NewReporter(st.counter)
	return st
}

// cleanup runs the cleanups, last first.
func (st *pullState) cleanup() {
	for i := len(st.cleanups) - 1; i >= 0; i-- {
		st.cleanups[i]()
	}
}

// warn records a warning for the Result and tells progress.
func (st *pullState) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	st.res.Warnings = append(st.res.Warnings, msg)
	st.rep.Emit(progress.Event{Kind: progress.Warning, Message: msg})
}

// checkPlatform warns about an image whose config declares another
// platform than the pull expected. Many images in the wild declare a wrong
// one, so this is a warning, never an error.
func (st *pullState) checkPlatform(img Image) {
	if img.Platform.IsZero() || platform.Only(st.expected).Match(img.Platform) {
		return
	}
	st.warn("image platform (%s) does not match the expected platform (%s)", img.Platform, st.expected)
}
