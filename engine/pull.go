package engine

import (
	"context"
	"fmt"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/decide"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/safetext"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/storage"
)

// Pull makes the image called name available in the store under policy p,
// and says what it did.
//
// name is anything Podman accepts: a registry name, short ("alpine") or
// qualified ("quay.io/x/y:tag", "docker://..."), name:tag@digest (the tag is
// dropped), an image ID (local only), or a transport reference
// ("oci-archive:/path.tar", "docker-archive:...", "oci:dir:ref", "dir:...",
// "containers-storage:...", "docker-daemon:...").
//
// A "containers-storage:" name reads the Engine's own store, or another
// store only when Options.AllowedStores lists it; a name naming any other
// store ("containers-storage:[vfs@/some/dir]x") is an invalid-argument
// error and creates nothing.
//
// The policy applies to registry names. Other transports read local sources
// and always copy (layers already stored are reused), as Podman does; the
// policy must still be valid.
//
// Concurrent Pulls of the same source into the same name, with the same
// platform, credentials, decryption keys and retry options (MaxRetries,
// RetryDelay), share one transfer: each gets the result and the transfer's
// progress from the moment it joined; one that gives up leaves the others
// undisturbed.
//
// Every error is a *pullerrors.PullError: classify it with
// pullerrors.Classify or errors.Is(err, pullerrors.ErrNotFound); the
// underlying errors stay reachable (errors.Is(err, storage.ErrImageUnknown)
// for policy never with no local image, as with libimage).
func (e *Engine) Pull(ctx context.Context, name string, p policy.Policy, opts *PullOptions) (res *Result, err error) {
	start := time.Now()
	finished := e.observeStart(start)
	defer func() { finished(res, err) }()
	st := e.newPullState(name, p, opts)
	defer st.cleanup()
	defer func() { _ = st.rep.Close(ctx) }()
	st.rep.Emit(progress.Event{Kind: progress.Resolving, Ref: st.shown()})
	if err := st.run(ctx); err != nil {
		return nil, st.fail(ctx, err)
	}
	return st.report(ctx, start), nil
}

// run is the pull's steps in order: read the configuration, parse and
// normalize the name, resolve the options, then the path for the request
// (dispatch), which looks up, decides, resolves names and copies.
func (st *pullState) run(ctx context.Context) error {
	if err := st.policy.Validate(); err != nil {
		return err
	}
	cfg, err := st.e.config.get()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := refuseCredentials(st.name); err != nil {
		return err
	}
	if st.in, err = st.e.parseName(st.name); err != nil {
		return err
	}
	if err := st.resolveOptions(cfg); err != nil {
		return err
	}
	return st.dispatch(ctx)
}

// shown is the name as events and logs show it: without the credentials a
// name may carry ("user:secret@host/app").
func (st *pullState) shown() string { return safetext.Redact(st.name) }

// report is the last step of a successful pull: the Result, with its
// duration and transfer figures, after the sink saw the done event.
func (st *pullState) report(ctx context.Context, start time.Time) *Result {
	res := st.res
	res.Duration = time.Since(start)
	st.rep.Emit(doneEvent(&res))
	// Close waits until the sink (and so the counter) has seen every event.
	_ = st.rep.Close(ctx)
	res.Transfer = st.counter.total()
	st.e.log.DebugContext(ctx, "pulled", "name", st.shown(), "outcome", res.Outcome.String(), "reference", res.Reference, "duration", res.Duration)
	return &res
}

// fail is the last step of a failed pull: the error wrapped with the input
// and every candidate tried, and told to progress and the log.
func (st *pullState) fail(ctx context.Context, err error) error {
	// A context ended with a cause may have left only the cause (in a
	// *url.Error) in err: its end decides the kind.
	err = engineerr.FromContext(ctx, err)
	var cands []pullerrors.CandidateError
	for _, c := range st.res.Candidates {
		if c.Err != nil {
			cands = append(cands, c)
		}
	}
	// Each failed candidate says whether credentials were sent (tried); a
	// refusal before any candidate (a tag list) asks the same of the name.
	perr := pullerrors.New(st.shown(), err, cands...)
	if len(cands) == 0 && (perr.Kind == pullerrors.Unauthorized || perr.Kind == pullerrors.Denied) && st.sendsCredentials() {
		perr.WithAuthenticated(true)
	}
	st.rep.Emit(progress.Event{Kind: progress.Failed, Ref: st.shown(), Err: perr,
		ErrorKind: pullerrors.Classify(perr).String(), ErrorStatus: pullerrors.HTTPStatus(perr)})
	st.e.log.DebugContext(ctx, "pull failed", "name", st.shown(), "err", perr)
	return perr
}

// sendsCredentials reports whether the pull's registry requests for its
// name carry credentials (sendsCredentials, credentials.go).
func (st *pullState) sendsCredentials() bool {
	explicit := st.o.Username != "" || st.o.IdentityToken != ""
	if st.in.name == "" {
		return explicit
	}
	named, err := reference.ParseNormalizedNamed(st.in.name)
	if err != nil {
		return explicit
	}
	return sendsCredentials(&st.sys, named)
}

func doneEvent(res *Result) progress.Event {
	ev := progress.Event{Kind: progress.Done, Ref: res.Reference, Message: res.Outcome.String()}
	for _, img := range res.Images {
		ev.ImageIDs = append(ev.ImageIDs, img.ID)
		ev.ImageNames = append(ev.ImageNames, img.Names...)
	}
	return ev
}

// dispatch sends the request to the path that serves it. One registry
// name is decided after its local lookup (pullName); the other requests
// look nothing up, and decide.Decide only says whether they may run.
func (st *pullState) dispatch(ctx context.Context) error {
	if st.request == decide.RequestOne {
		return st.pullName(ctx)
	}
	if decide.Decide(decide.Situation{Policy: st.policy, Request: st.request}) == decide.FailNeedsRegistry {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "%s needs the registry, which policy never forbids", requestText[st.request])
	}
	switch st.request {
	case decide.RequestTransport:
		return st.pullTransport(ctx)
	case decide.RequestPlatforms:
		return st.pullPlatforms(ctx)
	default:
		return st.pullAllTags(ctx)
	}
}

// requestText names the requests that need the registry, for errors.
var requestText = map[decide.Request]string{
	decide.RequestAllTags:   "pulling all tags",
	decide.RequestPlatforms: "pulling several platforms",
}

// pullName applies the policy to one registry name (or image ID): look up
// the local image, decide, then use it or pull.
func (st *pullState) pullName(ctx context.Context) error {
	effective, reason := decide.Effective(st.policy, st.pinned != nil)
	st.setPolicy(effective, reason)
	loc, err := st.lookupLocal(ctx)
	if err != nil {
		return err
	}
	switch action := st.decide(ctx, loc, effective, reason); action {
	case decide.UseLocal:
		st.finishLocal(loc.reference(), loc, UsedLocal, nil)
		return nil
	case decide.FailNotLocal:
		return notLocal(st.in, effective)
	case decide.FailAlwaysByID:
		return pullerrors.Errorf(pullerrors.InvalidArgument, "pull policy is always but image has been referred to by ID (%s)", st.in.raw)
	default:
		if loc != nil && loc.corrupted != nil {
			loc = nil
		}
		return st.pullFromRegistry(ctx, loc, action)
	}
}

// decide applies decide.Decide to what the lookup found, and tells
// progress. A corrupted local image counts as absent, with a warning.
func (st *pullState) decide(ctx context.Context, loc *local, effective policy.Policy, reason string) decide.Action {
	found := loc != nil
	corrupted := found && loc.corrupted != nil
	if corrupted {
		st.warn("local image %s is corrupted (%v): treating it as absent", loc.image.ID, loc.corrupted)
		st.e.log.WarnContext(ctx, "local image is corrupted, pulling to repair it", "image", loc.image.ID, "err", loc.corrupted)
	}
	byID := st.in.id != "" || (found && loc.byID)
	action := decide.Decide(decide.Situation{Policy: st.policy, LocalFound: found, LocalCorrupted: corrupted,
		ByID: byID, PlatformPinned: st.pinned != nil})
	st.rep.Emit(progress.Event{Kind: progress.PolicyDecision, Ref: safetext.Redact(st.in.raw), Message: decisionText(effective, reason, action, loc)})
	return action
}

// decisionText says what the policy decided, for progress.
func decisionText(p policy.Policy, reason string, a decide.Action, loc *local) string {
	msg := fmt.Sprintf("policy %s: %s", p, a)
	if loc != nil {
		msg += fmt.Sprintf(" (local image %.12s)", loc.image.ID)
	}
	if reason != "" {
		msg += "; " + reason
	}
	return msg
}

func notLocal(in input, effective policy.Policy) error {
	what := in.name
	if in.id != "" {
		what = in.raw
	}
	if effective == policy.Never {
		return fmt.Errorf("%s: %w (pull policy is never)", what, storage.ErrImageUnknown)
	}
	return fmt.Errorf("%s: %w (an image ID names local images only)", what, storage.ErrImageUnknown)
}
