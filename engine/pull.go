package engine

import (
	"context"
	"fmt"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
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
// The policy applies to registry names. Other transports read local sources
// and always copy (layers already stored are reused), as Podman does; the
// policy must still be valid.
//
// Concurrent Pulls of the same source into the same name, with the same
// platform, credentials and decryption keys, share one transfer: each gets
// the result and the transfer's progress from the moment it joined; one
// that gives up leaves the others undisturbed.
//
// Every error is a *pullerrors.PullError: classify it with
// pullerrors.Classify or errors.Is(err, pullerrors.ErrNotFound); the
// underlying errors stay reachable (errors.Is(err, storage.ErrImageUnknown)
// for policy never with no local image, as with libimage).
func (e *Engine) Pull(ctx context.Context, name string, p policy.Policy, opts *PullOptions) (*Result, error) {
	start := time.Now()
	var o PullOptions
	if opts != nil {
		o = *opts
	}
	counter := &transferCounter{next: o.Progress}
	rep := progress.NewReporter(counter)
	defer func() { _ = rep.Close(ctx) }()
	rep.Emit(progress.Event{Kind: progress.Resolving, Ref: name})

	res, err := e.pull(ctx, rep, name, p, &o)
	if err != nil {
		perr := e.pullError(name, res, err, &o)
		rep.Emit(progress.Event{Kind: progress.Failed, Ref: name, Err: perr,
			ErrorKind: pullerrors.Classify(perr).String(), ErrorStatus: pullerrors.HTTPStatus(perr)})
		e.log.DebugContext(ctx, "pull failed", "name", name, "err", perr)
		return nil, perr
	}
	res.Duration = time.Since(start)
	rep.Emit(doneEvent(res))
	// Close waits until the sink (and so the counter) has seen every event.
	_ = rep.Close(ctx)
	res.Transfer = counter.total()
	e.log.DebugContext(ctx, "pulled", "name", name, "outcome", res.Outcome.String(), "reference", res.Reference, "duration", res.Duration)
	return res, nil
}

func doneEvent(res *Result) progress.Event {
	ev := progress.Event{Kind: progress.Done, Ref: res.Reference, Message: res.Outcome.String()}
	for _, img := range res.Images {
		ev.ImageIDs = append(ev.ImageIDs, img.ID)
		ev.ImageNames = append(ev.ImageNames, img.Names...)
	}
	return ev
}

// pullError wraps a failure with the input and every candidate tried.
func (e *Engine) pullError(name string, res *Result, err error, o *PullOptions) error {
	var cands []pullerrors.CandidateError
	if res != nil {
		for _, c := range res.Candidates {
			if c.Err != nil {
				cands = append(cands, pullerrors.CandidateError{Name: c.Name, Err: c.Err})
			}
		}
	}
	return pullerrors.New(name, err, cands...).WithAuthenticated(o.Username != "" || o.IdentityToken != "")
}

// pull runs the steps of the design in order: validate, parse the input,
// build the system context, dispatch by transport. On failure it may return
// a partial Result whose Candidates say what was tried.
func (e *Engine) pull(ctx context.Context, rep *progress.Reporter, name string, p policy.Policy, o *PullOptions) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cfg, err := e.config.get()
	if err != nil {
		return nil, err
	}
	if p == policy.Default {
		p = cfg.conf.pullPolicy
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, err := parseInput(name)
	if err != nil {
		return nil, err
	}
	sys, err := e.systemContext(o, rep, cfg)
	if err != nil {
		return nil, err
	}
	res, err := e.dispatch(ctx, sys, in, p, o)
	if res != nil {
		res.Warnings = append(res.Warnings, sys.warnings...)
	}
	return res, err
}

// dispatch sends the input to the path that handles it.
func (e *Engine) dispatch(ctx context.Context, sys *sysContext, in input, p policy.Policy, o *PullOptions) (*Result, error) {
	switch {
	case in.transportRef != nil:
		if o.AllTags || o.AllPlatforms || len(o.Platforms) > 0 {
			return nil, fmt.Errorf("pulling all tags or several platforms is not supported for the %s transport: %w", in.transportRef.Transport().Name(), pullerrors.ErrUnsupported)
		}
		return e.pullTransport(ctx, sys, in, p, o)
	case o.AllPlatforms || len(o.Platforms) > 0:
		if in.id != "" || o.AllTags || !o.Platform.IsZero() {
			return nil, fmt.Errorf("several platforms are pulled by registry name, without AllTags or Platform: %w", pullerrors.ErrInvalidArgument)
		}
		return e.pullPlatforms(ctx, sys, in, p, o)
	case in.id != "":
		if o.AllTags {
			return nil, fmt.Errorf("pulling all tags of an image ID: %w", pullerrors.ErrInvalidArgument)
		}
		return e.pullName(ctx, sys, in, p, o)
	case o.AllTags:
		return e.pullAllTags(ctx, sys, in, p, o)
	default:
		return e.pullName(ctx, sys, in, p, o)
	}
}

// pullName applies the policy to one registry name (or image ID): look up
// the local image, decide, then use it or pull.
func (e *Engine) pullName(ctx context.Context, sys *sysContext, in input, p policy.Policy, o *PullOptions) (*Result, error) {
	custom := e.customPlatform(o)
	effective, reason := policy.Effective(p, custom)
	res := &Result{Policy: effective, PolicyReason: reason}

	loc, err := e.lookupLocal(ctx, &sys.SystemContext, in, sys.want)
	if err != nil {
		return res, err
	}
	found := loc != nil
	corrupted := found && loc.corrupted != nil
	if corrupted {
		sys.warn("local image %s is corrupted (%v): treating it as absent", loc.image.ID, loc.corrupted)
		e.log.WarnContext(ctx, "local image is corrupted, pulling to repair it", "image", loc.image.ID, "err", loc.corrupted)
	}
	byID := in.id != "" || (found && loc.byID)

	action := policy.Decide(p, found, corrupted, byID, custom)
	sys.rep.Emit(progress.Event{Kind: progress.PolicyDecision, Ref: in.raw, Message: decisionText(effective, reason, action, loc)})
	switch action {
	case policy.UseLocal:
		return e.useLocal(res, loc, UsedLocal, nil), nil
	case policy.FailNotLocal:
		return res, notLocal(in, effective)
	case policy.FailAlwaysByID:
		return res, fmt.Errorf("pull policy is always but image has been referred to by ID (%s): %w", in.raw, pullerrors.ErrInvalidArgument)
	default:
		if corrupted {
			loc = nil
		}
		return e.pullFromRegistry(ctx, sys, in, loc, action, res, o)
	}
}

// decisionText says what the policy decided, for progress.
func decisionText(p policy.Policy, reason string, a policy.Action, loc *local) string {
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

// useLocal fills res with the local image.
func (e *Engine) useLocal(res *Result, loc *local, outcome Outcome, remoteErr error) *Result {
	res.Outcome = outcome
	res.RemoteErr = remoteErr
	res.Reference = loc.name
	if res.Reference == "" {
		res.Reference = loc.image.ID
	}
	res.Images = []Image{e.describeLocal(loc)}
	return res
}
