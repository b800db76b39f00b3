package engine_test

// The hostile registry table (issue 10): each row drives one attack through
// the real engine against the kit's registry with a hostile fault in front
// of it, and asserts the bound, the kind and status, and that nothing is
// left under the name.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/internal/safetext"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// hostileRow is one attack.
type hostileRow struct {
	name string
	// faults are the registry's hostile answers.
	faults []enginetest.RegistryOption
	// ref is what is pulled ("" : the registry's hostile/app:v1); opts the
	// pull's options (AllTags, MaxTags, ...).
	ref  string
	opts engine.PullOptions
	// ctx makes the pull's context (nil: background); it may return a
	// cleanup.
	ctx func(t *testing.T, e *engine.Engine, arrived <-chan struct{}) (context.Context, func())
	// arrive, when set, selects the requests that signal arrived (and then
	// hang until the client gives up).
	arrive enginetest.RequestMatcher
	// image is what hostile/app:v1 holds (nil: one small layer).
	image v1.Image

	kind          pullerrors.Kind
	status        int
	maybeNotFound bool
	says          string // in the message
	// check asserts the row's own bound.
	check func(t *testing.T, h *hostileRun)
}

// hostileRun is what one row's pull left behind.
type hostileRun struct {
	reg    *enginetest.Registry
	e      *engine.Engine
	err    error
	logs   *attrLog
	events []progress.Event
	// heapBefore and heapAfter are HeapAlloc after a GC, before the pull and
	// after it with its error still referenced.
	heapBefore, heapAfter uint64
	totalAlloc            uint64 // bytes allocated during the pull
}

func TestHostileRegistry(t *testing.T) {
	const hugeBody = 50 << 20
	layered := manyLayers(t, 8)
	lastLayer := layerDigests(t, layered)[7]
	rows := []hostileRow{
		{
			name:   "1: a 50 MB error body is cut, and not kept in memory",
			faults: []enginetest.RegistryOption{registryfaults.HugeErrorBody(enginetest.Kind(enginetest.ManifestGet), -1, 404, "MANIFEST_UNKNOWN", hugeBody)},
			kind:   pullerrors.NotFound, status: 404, says: safetext.TruncatedSuffix,
			check: func(t *testing.T, h *hostileRun) {
				if n := len(h.err.Error()); n > safetext.MaxMessage {
					t.Errorf("message of %d bytes, want at most %d", n, safetext.MaxMessage)
				}
				// containers/image reads the body whole (io.ReadAll), which
				// nothing outside it can stop; what the engine keeps of it must
				// not grow with it.
				if grown := int64(h.heapAfter) - int64(h.heapBefore); grown > 8<<20 {
					t.Errorf("the failed pull keeps %d MiB of heap (its error holds the body?)", grown>>20)
				}
				h.logs.assertBounded(t, safetext.MaxMessage)
				for _, ev := range h.events {
					if ev.Err != nil && len(ev.Err.Error()) > safetext.MaxMessage {
						t.Errorf("%v event carries %d bytes", ev.Kind, len(ev.Err.Error()))
					}
				}
				t.Logf("allocated during the pull: %d MiB (containers/image's io.ReadAll of the %d MiB body included)", h.totalAlloc>>20, hugeBody>>20)
			},
		},
		{
			name:   "2: an endless Link chain stops at 1,000 pages",
			faults: []enginetest.RegistryOption{registryfaults.EndlessTagPages(1)},
			ref:    "hostile/app", opts: engine.PullOptions{AllTags: true},
			kind: pullerrors.Unsupported, status: 400, says: "past 1000 pages",
			check: func(t *testing.T, h *hostileRun) {
				if n := h.reg.Requests.Count(enginetest.TagsList); n != 1000 {
					t.Errorf("%d tag-list requests, want 1000", n)
				}
			},
		},
		{
			name:   "2: more tags than MaxTags are refused before any is pulled",
			faults: []enginetest.RegistryOption{registryfaults.EndlessTagPages(100)},
			ref:    "hostile/app", opts: engine.PullOptions{AllTags: true, MaxTags: 250},
			kind: pullerrors.Unsupported, status: 400, says: "more than 250 tags",
			check: func(t *testing.T, h *hostileRun) {
				if n := h.reg.Requests.Count(enginetest.TagsList); n != 3 {
					t.Errorf("%d tag-list requests, want 3", n)
				}
				if n := h.reg.Requests.Count(enginetest.ManifestGet); n != 0 {
					t.Errorf("%d manifests fetched", n)
				}
			},
		},
		{
			name: "a tag list's Link naming another host is refused",
			faults: []enginetest.RegistryOption{enginetest.Intercept(enginetest.Kind(enginetest.TagsList), -1,
				func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
					// Appended to "http://127.0.0.1:port", this path names the
					// host 127.0.0.1.evil.invalid: credentials would go there.
					w.Header().Set("Link", `<.evil.invalid/v2/hostile/app/tags/list?last=a>; rel="next"`)
					w.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprint(w, `{"name":"hostile/app","tags":["a"]}`)
				})},
			ref: "hostile/app", opts: engine.PullOptions{AllTags: true},
			kind: pullerrors.Integrity, status: 502, says: "bad Link header",
			check: func(t *testing.T, h *hostileRun) {
				if n := h.reg.Requests.Count(enginetest.TagsList); n != 1 {
					t.Errorf("%d tag-list requests, want 1", n)
				}
			},
		},
		{
			name: "a tag list's 8 MB WWW-Authenticate header is parsed bounded",
			faults: []enginetest.RegistryOption{enginetest.Intercept(enginetest.Kind(enginetest.TagsList), -1,
				func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
					// Four million one-letter schemes: one challenge each,
					// unbounded.
					w.Header().Set("WWW-Authenticate", strings.Repeat("a ", 4<<20))
					w.WriteHeader(http.StatusUnauthorized)
				})},
			ref: "hostile/app", opts: engine.PullOptions{AllTags: true},
			kind: pullerrors.Unauthorized, status: 401, maybeNotFound: true, says: "tags list",
			check: func(t *testing.T, h *hostileRun) {
				// The header itself is read (net/http), and copied a few
				// times; four million challenges would be hundreds of MiB.
				if h.totalAlloc > 100<<20 {
					t.Errorf("allocated %d MiB for an 8 MiB header", h.totalAlloc>>20)
				}
			},
		},
		{
			name:   "2: a 200 MB tag list stops at 32 MiB",
			faults: []enginetest.RegistryOption{registryfaults.HugeTagList(200 << 20)},
			ref:    "hostile/app", opts: engine.PullOptions{AllTags: true},
			kind: pullerrors.Unsupported, status: 400, says: "larger than 33554432 bytes",
			check: func(t *testing.T, h *hostileRun) {
				if h.totalAlloc > 150<<20 {
					t.Errorf("allocated %d MiB listing tags", h.totalAlloc>>20)
				}
			},
		},
		{
			name: "6: canceled with a cause while listing tags",
			ref:  "hostile/app", opts: engine.PullOptions{AllTags: true},
			arrive: enginetest.Kind(enginetest.TagsList),
			ctx: func(_ *testing.T, _ *engine.Engine, arrived <-chan struct{}) (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(context.Background())
				go func() { <-arrived; cancel(errors.New("operator pressed Ctrl-C")) }()
				return ctx, func() { cancel(nil) }
			},
			kind: pullerrors.Canceled, status: pullerrors.StatusClientClosedRequest,
			check: func(t *testing.T, h *hostileRun) {
				if pullerrors.Retryable(h.err) {
					t.Error("a cancellation is retryable")
				}
			},
		},
		{
			name:   "6: a deadline with a cause while fetching the manifest",
			arrive: enginetest.Kind(enginetest.ManifestGet),
			ctx: func(*testing.T, *engine.Engine, <-chan struct{}) (context.Context, func()) {
				// The manifest request hangs until this deadline passes.
				return context.WithTimeoutCause(context.Background(), 300*time.Millisecond, errors.New("pull budget spent"))
			},
			kind: pullerrors.Timeout, status: 504,
			check: func(t *testing.T, h *hostileRun) {
				if pullerrors.Retryable(h.err) {
					t.Error("the caller's deadline is retryable")
				}
			},
		},
		{
			name:   "7: escape sequences in a registry's error never reach messages, logs or events",
			faults: []enginetest.RegistryOption{registryfaults.EscapeSequences(enginetest.Kind(enginetest.ManifestGet), -1, 403, "DENIED")},
			kind:   pullerrors.Denied, status: 403, maybeNotFound: true, says: `\x1b]0;owned\a`,
			check: func(t *testing.T, h *hostileRun) {
				assertNoControls(t, "message", h.err.Error())
				h.logs.assertClean(t)
				for _, ev := range h.events {
					if ev.Err != nil {
						assertNoControls(t, ev.Kind.String()+" event", ev.Err.Error())
					}
				}
			},
		},
		{
			name:   "8: a canceled 8-layer pull returns after its teardown; Prune reclaims the 7 layers it left",
			image:  layered,
			arrive: enginetest.Blob(lastLayer),
			ctx: func(t *testing.T, e *engine.Engine, arrived <-chan struct{}) (context.Context, func()) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					<-arrived
					waitLayers(t, e, 7) // every layer but the hanging one committed
					cancel()
				}()
				return ctx, cancel
			},
			kind: pullerrors.Canceled, status: pullerrors.StatusClientClosedRequest,
			check: func(t *testing.T, h *hostileRun) {
				// Pull returned after the transfer's teardown: runHostile
				// checks the store's tmp right after this.
				ctx := context.Background()
				if n := layerCount(t, h.e); n != 7 {
					t.Fatalf("%d layers left by the canceled pull, want 7", n)
				}
				rep, err := h.e.Prune(ctx, engine.PruneOptions{})
				if err != nil || len(rep.Layers) != 0 || rep.Kept != 7 {
					t.Errorf("Prune with the default MinAge: %+v, %v; want the 7 young layers kept", rep, err)
				}
				rep, err = h.e.Prune(ctx, engine.PruneOptions{MinAge: -1})
				if err != nil || len(rep.Layers) != 7 {
					t.Errorf("Prune without age limit: %+v, %v; want 7 layers removed", rep, err)
				}
				if n := layerCount(t, h.e); n != 0 {
					t.Errorf("%d layers left after Prune", n)
				}
			},
		},
		{
			name:   "9: a manifest over 4 MiB is integrity (502), not retried",
			faults: []enginetest.RegistryOption{registryfaults.OversizeManifest(enginetest.Kind(enginetest.ManifestGet), -1, 5<<20)},
			opts:   engine.PullOptions{MaxRetries: intPtr(2), RetryDelay: time.Millisecond},
			kind:   pullerrors.Integrity, status: 502, says: "exceeded maximum allowed size",
			check: func(t *testing.T, h *hostileRun) {
				if n := h.reg.Requests.Count(enginetest.ManifestGet); n != 1 {
					t.Errorf("%d manifest GETs, want 1 (no retry)", n)
				}
			},
		},
		{
			name:   "9: a manifest served as text/html is integrity (502)",
			faults: []enginetest.RegistryOption{registryfaults.WrongContentType(enginetest.Kind(enginetest.ManifestGet, enginetest.ManifestHead), -1, "text/html; charset=utf-8")},
			opts:   engine.PullOptions{MaxRetries: intPtr(0)},
			kind:   pullerrors.Integrity, status: 502, says: "unsupported schema version",
		},
		{
			name: "9: a 5,000-character path is a bad name (400)",
			ref:  "dir:/" + strings.Repeat("a", 5000),
			kind: pullerrors.InvalidReference, status: 400,
		},
		{
			name:   "14: an explicit 403 DENIED to an anonymous pull stays 403",
			faults: []enginetest.RegistryOption{enginetest.FailWith(enginetest.Kind(enginetest.ManifestGet), -1, 403, "DENIED", "Permission denied on the resource (or it may not exist)")},
			kind:   pullerrors.Denied, status: 403, maybeNotFound: true, says: "does not exist or requires authentication",
		},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { runHostile(t, row) })
	}
}

func runHostile(t *testing.T, row hostileRow) {
	arrived := make(chan struct{})
	var once sync.Once
	faults := row.faults
	if row.arrive != nil {
		faults = append(faults, enginetest.Intercept(row.arrive, -1, func(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
			once.Do(func() { close(arrived) })
			<-r.Context().Done()
		}))
	}
	reg := enginetest.NewRegistry(t, faults...)
	if row.image != nil {
		reg.PushImage(t, "hostile/app:v1", row.image)
	} else {
		reg.Push(t, "hostile/app:v1", enginetest.Files{"a": "1"})
	}
	logs := &attrLog{}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Logger = slog.New(logs)
	}))
	ref := row.ref
	switch {
	case ref == "":
		ref = reg.Host + "/hostile/app:v1"
	case !strings.Contains(ref, ":/"):
		ref = reg.Host + "/" + ref
	}
	ctx := context.Background()
	if row.ctx != nil {
		var cleanup func()
		ctx, cleanup = row.ctx(t, e, arrived)
		defer cleanup()
	}
	h := &hostileRun{reg: reg, e: e, logs: logs}
	var mu sync.Mutex
	opts := row.opts
	opts.Progress = progress.SinkFunc(func(ev progress.Event) { mu.Lock(); h.events = append(h.events, ev); mu.Unlock() })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, h.err = e.Pull(ctx, ref, policy.Always, &opts)
	runtime.GC()
	runtime.ReadMemStats(&after)
	h.heapBefore, h.heapAfter, h.totalAlloc = before.HeapAlloc, after.HeapAlloc, after.TotalAlloc-before.TotalAlloc
	err := h.err
	if err == nil {
		t.Fatal("the pull succeeded")
	}
	t.Logf("%.400v", err)
	var pe *pullerrors.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("not a PullError: %T %v", err, err)
	}
	if k := pullerrors.Classify(err); k != row.kind || pullerrors.HTTPStatus(err) != row.status {
		t.Errorf("kind %s status %d, want %s %d: %.300v", k, pullerrors.HTTPStatus(err), row.kind, row.status, err)
	}
	if pe.MaybeNotFound != row.maybeNotFound {
		t.Errorf("MaybeNotFound %t, want %t", pe.MaybeNotFound, row.maybeNotFound)
	}
	if row.says != "" && !strings.Contains(err.Error(), row.says) {
		t.Errorf("message does not say %q: %.500s", row.says, err.Error())
	}
	if row.check != nil {
		row.check(t, h)
	}
	assertNothingLeft(t, e)
	runtime.KeepAlive(err)
}

// assertNothingLeft checks that the store holds no image and its temporary
// directory nothing.
func assertNothingLeft(t *testing.T, e *engine.Engine) {
	t.Helper()
	imgs, err := e.Store().Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 0 {
		t.Errorf("%d images left in the store", len(imgs))
	}
	assertTmpEmpty(t, e)
}

func assertTmpEmpty(t *testing.T, e *engine.Engine) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.Store().GraphRoot(), "tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, de := range entries {
		t.Errorf("left in the store's tmp: %s", de.Name())
	}
}

func assertNoControls(t *testing.T, what, s string) {
	t.Helper()
	if i := strings.IndexFunc(s, func(r rune) bool {
		return r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e))
	}); i >= 0 {
		t.Errorf("%s holds control character %q at %d: %.200q", what, s[i:i+1], i, s)
	}
}

func intPtr(n int) *int { return &n }

// attrLog is a slog.Handler that keeps every record's attribute values as
// text (LogValuers resolved), whatever a real handler would make of them.
type attrLog struct {
	mu     sync.Mutex
	values []string
}

func (l *attrLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *attrLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.values = append(l.values, r.Message)
	r.Attrs(func(a slog.Attr) bool { l.add(a); return true })
	return nil
}

func (l *attrLog) add(a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			l.add(g)
		}
		return
	}
	if v.Kind() == slog.KindAny {
		if err, ok := v.Any().(error); ok {
			l.values = append(l.values, err.Error())
			return
		}
	}
	l.values = append(l.values, v.String())
}

func (l *attrLog) WithAttrs(as []slog.Attr) slog.Handler {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range as {
		l.add(a)
	}
	return l
}

func (l *attrLog) WithGroup(string) slog.Handler { return l }

func (l *attrLog) assertBounded(t *testing.T, limit int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.values {
		if len(v) > limit {
			t.Errorf("a log attribute of %d bytes: %.100s…", len(v), v)
		}
	}
}

func (l *attrLog) assertClean(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.values {
		assertNoControls(t, "log attribute", v)
	}
}

// manyLayers is an image of n small layers.
func manyLayers(t *testing.T, n int) v1.Image {
	var opts []enginetest.ImageOption
	for i := range n {
		opts = append(opts, enginetest.WithLayer(t, enginetest.Files{fmt.Sprintf("f%d", i): fmt.Sprint(i)}))
	}
	return enginetest.NewImage(t, opts...)
}

func layerCount(t *testing.T, e *engine.Engine) int {
	ls, err := e.Store().Layers()
	if err != nil {
		t.Error(err)
	}
	return len(ls)
}

// waitLayers waits until the store holds n layers (a pull commits them one
// by one); it gives up after a minute.
func waitLayers(t *testing.T, e *engine.Engine, n int) {
	deadline := time.Now().Add(time.Minute)
	for layerCount(t, e) < n {
		if time.Now().After(deadline) {
			t.Errorf("the store never held %d layers", n)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
