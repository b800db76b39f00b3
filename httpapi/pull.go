package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/pullengine/pullengine/engine"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
	"github.com/pullengine/pullengine/progress"
)

// pull serves POST /libpod/images/pull.
func (h *handler) pull(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	release, ok := h.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	req, err := parseQuery(r.URL.RawQuery, &h.cfg)
	if err == nil {
		err = h.checkRetries(req)
	}
	var creds credentials
	if err == nil {
		err = h.checkAllTags(req)
	}
	if err == nil {
		creds, err = requestCredentials(r)
	}
	if err != nil {
		status := http.StatusBadRequest
		if _, refused := err.(*forbidden); refused {
			status = http.StatusForbidden
		}
		h.cfg.log.DebugContext(r.Context(), "pull request rejected", "status", status, "err", message(err))
		writeError(w, status, err)
		return
	}
	if req.local != nil {
		ref, src, err := h.openLocal(r.Context(), req.local)
		if err != nil {
			status := pullerrors.HTTPStatus(err)
			h.cfg.log.InfoContext(r.Context(), "pull", "reference", clip(req.local.shown), "status", status, "kind", pullerrors.Classify(err).String(), "err", message(err))
			writeError(w, status, err)
			return
		}
		defer src.Close()
		req.reference = ref
	}
	opts := h.pullOptions(req, creds)

	var status int
	mode := "stream"
	switch {
	case req.quiet:
		mode = "quiet"
		status, err = h.pullQuiet(w, r, req, opts)
	case req.compatMode:
		mode = "compat"
		status, err = h.pullStream(w, r, req, opts)
	default:
		status, err = h.pullStream(w, r, req, opts)
	}

	shown := req.reference
	if req.local != nil {
		shown = req.local.shown + req.local.choice // not the private copy
	}
	attrs := []any{"reference", clip(safetext.Redact(shown)), "policy", req.policy.String(), "mode", mode, "status", status, "duration", time.Since(start)}
	if !req.platform.IsZero() {
		attrs = append(attrs, "platform", req.platform.String())
	}
	if err != nil {
		attrs = append(attrs, "kind", pullerrors.Classify(err).String(), "err", message(err))
	}
	h.cfg.log.InfoContext(r.Context(), "pull", attrs...)
}

// pullOptions turns the request into engine options.
func (h *handler) pullOptions(req *pullRequest, creds credentials) *engine.PullOptions {
	opts := &engine.PullOptions{
		Platform:   req.platform,
		TLSVerify:  req.tlsVerify,
		AllTags:    req.allTags,
		MaxRetries: req.retry,
		RetryDelay: req.retryDelay,
	}
	h.applyMaxTags(opts)
	if c := creds.single; c != nil {
		opts.Username, opts.Password, opts.IdentityToken = c.Username, c.Password, c.IdentityToken
	}
	opts.RegistryCredentials = creds.registryCredentials()
	return opts
}

// pullQuiet is ?quiet=true: one answer when the pull is over.
func (h *handler) pullQuiet(w http.ResponseWriter, r *http.Request, req *pullRequest, opts *engine.PullOptions) (int, error) {
	res, err := h.e.Pull(r.Context(), req.reference, req.policy, opts)
	if err != nil {
		err = req.local.showErr(err)
		return h.failEarly(w, r, err, false), err
	}
	var report progress.PullReport
	for _, img := range res.Images {
		report.Images = append(report.Images, img.ID)
		report.ID = img.ID
	}
	writeJSON(w, http.StatusOK, report)
	return http.StatusOK, nil
}

// failEarly answers a pull that failed before anything was streamed: the
// classified status and libpod's error body (Docker's {"message"} in
// compat mode). It returns the status written.
func (h *handler) failEarly(w http.ResponseWriter, r *http.Request, err error, compat bool) int {
	status := pullerrors.HTTPStatus(err)
	if status == pullerrors.StatusClientClosedRequest {
		// The request's context ended: the client left (then nobody
		// reads this) or the server is shutting down and canceled the
		// pulls in flight (then the client still waits for an answer).
		status = http.StatusServiceUnavailable
	}
	if after, ok := pullerrors.RetryAfter(err); ok && after > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(after.Seconds())), 10))
	}
	if compat {
		writeJSON(w, status, compatErrorBody{Message: rootCause(err)})
	} else {
		writeError(w, status, err)
	}
	return status
}

// forwarder is the pull's progress sink: it hands every event to the
// request's goroutine, which alone writes the response. The engine's
// Reporter queues events while Emit waits, so waiting never stalls the
// pull. Emit gives up once stop is closed (the handler has returned).
type forwarder struct {
	events chan progress.Event
	stop   chan struct{}
}

// Emit hands e to the request's goroutine.
func (f *forwarder) Emit(e progress.Event) {
	select {
	case f.events <- e:
	case <-f.stop:
	}
}

// commitsStatus reports whether e proves that the registry answered and
// the image (for the platform asked) exists: a blob transfer started or
// was skipped, so the manifest was read and an instance chosen; or the
// pull is over. Until then nothing is written, so that any failure still
// gets its exact status.
func commitsStatus(e progress.Event) bool {
	switch e.Kind {
	case progress.BlobStarted, progress.BlobSkipped, progress.BlobProgress, progress.BlobDone, progress.Done:
		return true
	}
	return false
}

// pullStream is the default streaming mode (and pullProgress, and
// compatMode): progress lines as they happen, after a status that waits for
// the registry's answer.
func (h *handler) pullStream(w http.ResponseWriter, r *http.Request, req *pullRequest, opts *engine.PullOptions) (int, error) {
	fwd := &forwarder{events: make(chan progress.Event), stop: make(chan struct{})}
	opts.Progress = fwd

	var (
		res     *engine.Result
		pullErr error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, pullErr = h.e.Pull(r.Context(), req.reference, req.policy, opts)
	}()
	// The handler returns only once Pull has (it stops promptly when the
	// request's context ends).
	defer func() {
		close(fwd.stop)
		<-done
	}()

	var timer <-chan time.Time
	if h.cfg.streamingDelay > 0 {
		t := time.NewTimer(h.cfg.streamingDelay)
		defer t.Stop()
		timer = t.C
	}

	s := &stream{w: w, req: req}
	for {
		select {
		case ev := <-fwd.events:
			ev = req.local.showEvent(ev)
			if !s.committed() && ev.Kind == progress.Failed {
				return h.failEarly(w, r, ev.Err, req.compatMode), ev.Err
			}
			if commitsStatus(ev) {
				s.commit()
			}
			s.emit(ev)
			if h.cfg.onEvent != nil {
				h.cfg.onEvent(ev)
			}
			switch ev.Kind {
			case progress.Done:
				return http.StatusOK, nil
			case progress.Failed:
				return http.StatusOK, ev.Err
			}
		case <-timer:
			s.commit()
		case <-done:
			// Pull returned without delivering its final event: its
			// context ended (client gone, server shutting down) while the
			// event was on its way. A context that ends is not a reason to
			// stop here: Pull returns promptly then, and the answer (if
			// anyone still reads it) says the pull was canceled.
			return h.finishWithoutEvent(w, r, s, res, pullErr)
		}
	}
}

// finishWithoutEvent ends a stream whose pull returned without a final
// event.
func (h *handler) finishWithoutEvent(w http.ResponseWriter, r *http.Request, s *stream, res *engine.Result, err error) (int, error) {
	if err == nil && res == nil {
		err = pullerrors.Errorf(pullerrors.Internal, "internal error: the pull returned no result")
	}
	err = s.req.local.showErr(err)
	if err != nil && !s.committed() {
		return h.failEarly(w, r, err, s.req.compatMode), err
	}
	s.commit()
	if err != nil {
		s.emit(progress.Event{Kind: progress.Failed, Err: err, ErrorKind: pullerrors.Classify(err).String(), ErrorStatus: pullerrors.HTTPStatus(err)})
		return http.StatusOK, err
	}
	done := progress.Event{Kind: progress.Done, Ref: s.req.local.showText(res.Reference)}
	for _, img := range res.Images {
		done.ImageIDs = append(done.ImageIDs, img.ID)
	}
	s.emit(done)
	return http.StatusOK, nil
}

// stream is the response of a streaming pull: events are held back until
// commit writes the status, then rendered as they come.
type stream struct {
	w       http.ResponseWriter
	req     *pullRequest
	out     progress.Sink // nil until committed
	pending []progress.Event
}

func (s *stream) committed() bool { return s.out != nil }

// commit writes 200 and the events held back; later calls do nothing.
func (s *stream) commit() {
	if s.out != nil {
		return
	}
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusOK)
	if s.req.compatMode {
		s.out = newCompatStream(s.w)
	} else {
		s.out = progress.NewJSONLines(s.w, &progress.JSONLinesOptions{PullProgress: s.req.pullProgress})
	}
	for _, ev := range s.pending {
		s.out.Emit(ev)
	}
	s.pending = nil
	_ = http.NewResponseController(s.w).Flush()
}

// emit renders e, or holds it back until commit.
func (s *stream) emit(e progress.Event) {
	if s.out == nil {
		s.pending = append(s.pending, e)
		return
	}
	s.out.Emit(e)
}
