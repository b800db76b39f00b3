package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

// checkStream checks the shape every client relies on: each line has a
// status and one of stream/error/images/id (a line with only a status makes
// Podman's clients fail), "pulling" lines come first, and the last line is
// the outcome.
func checkStream(t *testing.T, lines []progress.PullReport) progress.PullReport {
	t.Helper()
	for i, l := range lines {
		if l.Status == "" || (l.Stream == "" && l.Error == "" && len(l.Images) == 0 && l.ID == "") {
			t.Errorf("line %d %+v: a status and one of stream, error, images, id are needed", i, l)
		}
		if i < len(lines)-1 && l.Status != "pulling" {
			t.Errorf("line %d %+v: only the last line may be the outcome", i, l)
		}
	}
	return lines[len(lines)-1]
}

func TestStreamSuccess(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	img := v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	id := enginetest.ID(t, img)

	// The versioned path (the bindings), the unversioned one (curl).
	for _, path := range []string{"/v5.8.0/libpod/images/pull", "/libpod/images/pull"} {
		a := v.post(t, path, q("reference", v.ref("team/app:v1")), nil)
		lines := a.lines(t)
		last := checkStream(t, lines)
		if last.Status != "success" || !slices.Equal(last.Images, []string{id}) || last.ID != id {
			t.Errorf("%s: last line %+v, want success with %s", path, last, id)
		}
		if lines[0].Stream != "Trying to pull "+v.ref("team/app:v1")+"...\n" {
			t.Errorf("%s: first line %+v", path, lines[0])
		}
		var texts []string
		for _, l := range lines {
			texts = append(texts, l.Stream)
		}
		if all := strings.Join(texts, ""); !strings.Contains(all, "Copying config sha256:"+id) || !strings.Contains(all, "Writing manifest to image destination") {
			t.Errorf("%s: stream text:\n%s", path, all)
		}
		if images, err := a.bindingsPull(); err != nil || !slices.Equal(images, []string{id}) {
			t.Errorf("%s: the bindings would return %v, %v", path, images, err)
		}
	}
}

// bootcReport is the line struct of bootc's Rust client, which renders one
// progress bar per component from ?pullProgress=true.
type bootcReport struct {
	Status   string   `json:"status"`
	Stream   string   `json:"stream"`
	Error    string   `json:"error"`
	Images   []string `json:"images"`
	ID       string   `json:"id"`
	Progress *struct {
		Status              string `json:"status"`
		Current             uint64 `json:"current"`
		Total               int64  `json:"total"`
		ProgressComponentID string `json:"progressComponentID"`
	} `json:"pullProgress"`
}

func TestPullProgress(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 300<<10), enginetest.WithLayer(t, enginetest.Files{"b": "2"}))
	v.reg.PushImage(t, "team/big:v1", img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}

	for round, wantLayer := range []string{"success", "skipped"} {
		a := v.pull(t, q("reference", v.ref("team/big:v1"), "pullProgress", "true"), nil)
		checkStream(t, a.lines(t))

		// bootc's rules: every line parses; every bar that starts ends,
		// complete (success with current == total) or skipped.
		bars := map[string]string{} // component → last status
		var final bootcReport
		for _, line := range bytes.Split(bytes.TrimSpace(a.body), []byte("\n")) {
			var r bootcReport
			if err := jsonUnmarshalStrictish(line, &r); err != nil {
				t.Fatalf("round %d: line %s: %v", round, line, err)
			}
			final = r
			p := r.Progress
			if p == nil {
				continue
			}
			if p.ProgressComponentID == "" || !strings.HasPrefix(p.ProgressComponentID, "sha256:") {
				t.Errorf("round %d: line %s: no component digest", round, line)
			}
			switch p.Status {
			case "pulling":
				if bars[p.ProgressComponentID] == "success" {
					t.Errorf("round %d: %s progresses after success", round, p.ProgressComponentID)
				}
			case "success":
				if p.Total <= 0 || p.Current != uint64(p.Total) {
					t.Errorf("round %d: line %s: a successful bar must be full", round, line)
				}
			case "skipped":
			default:
				t.Errorf("round %d: line %s: unknown status", round, line)
			}
			bars[p.ProgressComponentID] = p.Status
		}
		if final.Status != "success" || len(final.Images) != 1 {
			t.Errorf("round %d: final line %+v", round, final)
		}
		for _, l := range layers {
			d, _ := l.Digest()
			if got := bars[d.String()]; got != wantLayer {
				t.Errorf("round %d: layer %s ended %q, want %q", round, d, got, wantLayer)
			}
		}
		for c, s := range bars {
			if s == "pulling" {
				t.Errorf("round %d: the bar of %s never completes", round, c)
			}
		}
	}
}

// jsonUnmarshalStrictish decodes one line; extra fields (errorKind) are
// allowed, as serde allows them by default.
func jsonUnmarshalStrictish(line []byte, v any) error {
	return jsonNewDecoder(line).Decode(v)
}

func TestQuietSuccess(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	img := v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	id := enginetest.ID(t, img)
	a := v.pull(t, q("reference", "team/app:v1", "quiet", "true"), nil)
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if want := `{"images":["` + id + `"],"id":"` + id + `"}` + "\n"; string(a.body) != want {
		t.Errorf("body %s, want %s", a.body, want)
	}
	if images, err := a.bindingsPull(); err != nil || !slices.Equal(images, []string{id}) {
		t.Errorf("the bindings would return %v, %v", images, err)
	}
}

func TestCompatModeSuccess(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	img := v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	a := v.pull(t, q("reference", v.ref("team/app:v1"), "compatMode", "true"), nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v: %s", a.status, a.header, a.body)
	}
	lines := bytes.Split(bytes.TrimSpace(a.body), []byte("\n"))
	var statuses []string
	for _, line := range lines {
		var m compatMessage
		if err := jsonNewDecoder(line).Decode(&m); err != nil || m.Progress == nil || m.ID == "" || len(m.ID) != 12 {
			t.Errorf("line %s: %v", line, err)
		}
		statuses = append(statuses, m.Status)
	}
	if !slices.Contains(statuses, "Pulling fs layer") || statuses[len(statuses)-1] != "Download complete" {
		t.Errorf("statuses %v", statuses)
	}
	if want := `"id":"` + enginetest.ID(t, img)[:12] + `"`; !bytes.Contains(lines[len(lines)-1], []byte(want)) {
		t.Errorf("last line %s lacks %s", lines[len(lines)-1], want)
	}
}

// corruptBlobs serves the blobs whose digest is in bad with every byte
// flipped: the transfer starts, then fails its digest check.
func corruptBlobs(bad map[string]bool) enginetest.RegistryOption {
	return enginetest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/")
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || !bad[r.URL.Path[i+1:]] {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			for i := range body {
				body[i] ^= 0xff
			}
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	})
}

// A failure after the first blob started streaming is a 200 whose last
// line is the error, with its kind and status.
func TestFailureMidStream(t *testing.T) {
	t.Parallel()
	img := enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"a": "1"}))
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	v := newEnv(t, withRegistryOptions(corruptBlobs(map[string]bool{d.String(): true})))
	v.reg.PushImage(t, "team/app:v1", img)

	for _, mode := range []string{"stream", "pullProgress"} {
		a := v.pull(t, q("reference", v.ref("team/app:v1"), mode, "true", "retry", "0"), nil)
		lines := a.lines(t)
		last := checkStream(t, lines)
		if last.Status != "error" || last.Error == "" || last.ErrorKind != pullerrors.Integrity.String() || last.ErrorStatus != 502 {
			t.Errorf("%s: last line %+v, want an integrity error (502)", mode, last)
		}
		if _, err := a.bindingsPull(); err == nil || err.Error() != last.Error {
			t.Errorf("%s: the bindings would return %v", mode, err)
		}
	}
	a := v.pull(t, q("reference", v.ref("team/app:v1"), "compatMode", "true", "retry", "0"), nil)
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"errorDetail":{"message":`)) {
		t.Errorf("compat: %d %s", a.status, a.body)
	}
}

func TestAllTags(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	one := v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	two := v.reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"})
	a := v.pull(t, q("reference", v.ref("team/app"), "allTags", "true"), nil)
	last := checkStream(t, a.lines(t))
	want := []string{enginetest.ID(t, one), enginetest.ID(t, two)}
	if last.Status != "success" || !slices.Equal(last.Images, want) || last.ID != want[1] {
		t.Errorf("last line %+v, want images %v", last, want)
	}
}

// The policy is libpod's "always" unless asked otherwise; the engine's
// policies apply as asked.
func TestPolicies(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := v.ref("team/app:v1")
	for _, c := range []struct {
		policy    string
		gets      int
		heads     int
		wantLocal bool
	}{
		{"", 1, 0, false},       // always, the default: pulls
		{"always", 1, 0, false}, // again
		{"missing", 0, 0, true}, // present: no request
		{"newer", 0, 1, true},   // up to date: one HEAD
		{"never", 0, 0, true},
	} {
		v.reg.Requests.Reset()
		query := q("reference", ref, "quiet", "true")
		if c.policy != "" {
			query.Set("policy", c.policy)
		}
		if a := v.pull(t, query, nil); a.status != 200 {
			t.Fatalf("policy %q: %d %s", c.policy, a.status, a.body)
		}
		if g, h := v.reg.Requests.Count(enginetest.ManifestGet), v.reg.Requests.Count(enginetest.ManifestHead); g != c.gets || h != c.heads {
			t.Errorf("policy %q: %d manifest GETs, %d HEADs; want %d, %d", c.policy, g, h, c.gets, c.heads)
		}
	}
}

// retry and retryDelay reach the engine: retry=2 makes three attempts.
func TestRetryParameters(t *testing.T) {
	t.Parallel()
	v := newEnv(t, withRegistryOptions(enginetest.FailWith(manifests, -1, 503, "UNAVAILABLE", "maintenance")))
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	for _, retries := range []string{"0", "2"} {
		v.reg.Requests.Reset()
		a := v.pull(t, q("reference", v.ref("team/app:v1"), "retry", retries, "retrydelay", "1ms"), nil)
		a.errorBody(t, 503)
		want := map[string]int{"0": 1, "2": 3}[retries]
		if n := v.reg.Requests.Count(enginetest.ManifestGet); n != want {
			t.Errorf("retry=%s: %d manifest GETs, want %d", retries, n, want)
		}
	}
}

// tlsVerify=true overrides the registries.conf that lets the test registry
// speak plain HTTP.
func TestTLSVerify(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	if a := v.pull(t, q("reference", v.ref("team/app:v1"), "tlsVerify", "false", "quiet", "true"), nil); a.status != 200 {
		t.Fatalf("tlsVerify=false: %d %s", a.status, a.body)
	}
	a := v.pull(t, q("reference", v.ref("team/app:v1"), "tlsVerify", "true", "retry", "0"), nil)
	if a.status == 200 {
		t.Fatalf("tlsVerify=true pulled over plain HTTP: %s", a.body)
	}
	a.errorBody(t, a.status)
}

// withEventHook makes the handler report each progress event it has
// handled.
func withEventHook(f func(progress.Event)) envOption {
	return func(c *envConfig) { c.onEvent = f }
}

// watchWriter records whether anything was written to the response.
type watchWriter struct {
	http.ResponseWriter
	wrote *atomic.Bool
}

func (w watchWriter) WriteHeader(code int) { w.wrote.Store(true); w.ResponseWriter.WriteHeader(code) }
func (w watchWriter) Write(p []byte) (int, error) {
	w.wrote.Store(true)
	return w.ResponseWriter.Write(p)
}
func (w watchWriter) Flush()                      { http.NewResponseController(w.ResponseWriter).Flush() }
func (w watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// A slow registry does not make the handler commit to a status: while
// the manifest request is held, nothing is written, however long it takes;
// then the answer carries the exact status.
func TestSlowRegistryKeepsExactStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, tag string
		status    int
	}{
		{"exists", "v1", 200},
		{"missing", "v2", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBlocker(enginetest.Kind(enginetest.ManifestGet))
			var wrote atomic.Bool
			handled := make(chan progress.Event, 64)
			v := newEnv(t,
				withRegistryOptions(enginetest.WithMiddleware(b.middleware)),
				withEventHook(func(e progress.Event) { handled <- e }),
				withWrap(func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						h.ServeHTTP(watchWriter{w, &wrote}, r)
					})
				}))
			v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
			defer b.Release()

			got := make(chan answer, 1)
			go func() { got <- v.pull(t, q("reference", v.ref("team/app:"+c.tag)), nil) }()
			b.wait(t) // the manifest request is held
			ctx, cancel := testContext(t)
			defer cancel()
			for seen := false; !seen; {
				select {
				case e := <-handled:
					seen = e.Kind == progress.TryingCandidate
				case <-ctx.Done():
					t.Fatal("the handler never handled the candidate")
				}
			}
			if wrote.Load() {
				t.Fatal("the handler wrote before the registry answered")
			}
			select {
			case a := <-got:
				t.Fatalf("the client got an answer before the registry answered: %d %s", a.status, a.body)
			default:
			}
			b.Release()
			a := <-got
			if c.status == 200 {
				if last := checkStream(t, a.lines(t)); last.Status != "success" {
					t.Errorf("last line %+v", last)
				}
				return
			}
			a.errorBody(t, c.status)
		})
	}
}

// Podman gives up on the exact status after 5 seconds; this handler does
// not. A registry that takes 6 seconds to say "not found" still gets 404.
func TestSlowerThanPodmansTimer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 seconds")
	}
	t.Parallel()
	slow := enginetest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
				select {
				case <-time.After(6 * time.Second):
				case <-r.Context().Done():
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	v := newEnv(t, withRegistryOptions(slow))
	v.pull(t, q("reference", v.ref("team/app:v1"), "retry", "0"), nil).errorBody(t, 404)
}

// Options.StreamingDelay restores Podman's timer for clients that need an
// early header: the status is then 200 and the error comes in the stream.
func TestStreamingDelay(t *testing.T) {
	t.Parallel()
	b := newBlocker(enginetest.Kind(enginetest.ManifestGet))
	v := newEnv(t,
		withRegistryOptions(enginetest.WithMiddleware(b.middleware)),
		withHandlerOptions(Options{StreamingDelay: time.Millisecond}))
	defer b.Release()

	req, err := http.NewRequest(http.MethodPost, v.srv.URL+"/v5.8.0/libpod/images/pull?"+q("reference", v.ref("team/app:v1")).Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := v.srv.Client().Do(req) // returns once the header is in
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 once the delay passed", resp.StatusCode)
	}
	b.Release()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	last := checkStream(t, a.lines(t))
	if last.Status != "error" || last.ErrorStatus != 404 || last.ErrorKind != pullerrors.NotFound.String() {
		t.Errorf("last line %+v, want a not-found error", last)
	}
}

// holdMidBlob sends half of the blob whose digest is d, then holds the rest
// until released or the client gives up; midway is signalled.
type holdMidBlob struct {
	digest  string
	midway  chan struct{}
	release chan struct{}
	held    atomic.Bool
}

func (hb *holdMidBlob) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+hb.digest) || hb.held.Swap(true) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		close(hb.midway)
		select {
		case <-hb.release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body[len(body)/2:])
	})
}

// A client that disconnects mid-transfer cancels its pull, which leaves no
// image under the name; a later pull succeeds.
func TestDisconnectCancelsPull(t *testing.T) {
	t.Parallel()
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 1<<20))
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	hb := &holdMidBlob{digest: d.String(), midway: make(chan struct{}), release: make(chan struct{})}
	defer close(hb.release)
	finished := make(chan error, 4)
	v := newEnv(t,
		withRegistryOptions(enginetest.WithMiddleware(hb.middleware)),
		withWrap(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r)
				finished <- r.Context().Err()
			})
		}))
	v.reg.PushImage(t, "team/big:v1", img)
	ref := v.ref("team/big:v1")

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.srv.URL+"/v5.8.0/libpod/images/pull?"+q("reference", ref).Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		if resp, err := v.srv.Client().Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	tctx, tcancel := testContext(t)
	defer tcancel()
	select {
	case <-hb.midway:
	case <-tctx.Done():
		t.Fatal("the layer transfer never started")
	}
	cancel() // the client hangs up mid-transfer
	<-clientDone
	select {
	case err := <-finished:
		if err == nil {
			t.Errorf("the handler returned, but its request was not canceled")
		}
	case <-tctx.Done():
		t.Fatal("the handler did not return after the client left")
	}

	// Nothing under the name, nothing by the image's ID.
	_, err = v.e.Pull(context.Background(), ref, policy.Never, nil)
	if !errors.Is(err, pullerrors.ErrNotFound) {
		t.Fatalf("after a canceled pull, policy never: %v; want not found", err)
	}
	if _, err := v.e.Store().Image(enginetest.ID(t, img)); err == nil {
		t.Errorf("the canceled pull left image %s in the store", enginetest.ID(t, img))
	}
	if !strings.Contains(v.logs.String(), "kind=canceled") {
		t.Errorf("the log does not say the pull was canceled:\n%s", v.logs.String())
	}

	// A later pull succeeds (the held blob is served whole from now on):
	// it starts a new transfer, never joining the canceled one.
	a := v.pull(t, q("reference", ref), nil)
	last := checkStream(t, a.lines(t))
	if last.Status != "success" {
		t.Fatalf("pull after the canceled one: %+v", last)
	}
	if _, err := v.e.Pull(context.Background(), ref, policy.Never, nil); err != nil {
		t.Errorf("policy never after a successful pull: %v", err)
	}
}
