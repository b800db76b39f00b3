package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/progress"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// canary is a password that must never appear in a response or a log.
const canary = "canary-Pa55word-httpapi-9c41"

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a registry, an engine trusting it, and the handler served over
// HTTP; every log line (handler's and engine's, at debug level) goes to
// logs.
type env struct {
	reg  *enginetest.Registry
	e    *engine.Engine
	srv  *httptest.Server
	logs *syncBuffer
}

type envConfig struct {
	regOpts     []enginetest.RegistryOption
	engOpts     []enginetest.EngineOption
	handlerOpts Options
	onEvent     func(progress.Event)
	onLocal     func()
	wrap        func(http.Handler) http.Handler
}

type envOption func(*envConfig)

func withRegistryOptions(o ...enginetest.RegistryOption) envOption {
	return func(c *envConfig) { c.regOpts = append(c.regOpts, o...) }
}

// withHandlerOptions sets the handler's options; a nil Logger is the
// env's logger.
func withHandlerOptions(o Options) envOption {
	return func(c *envConfig) { c.handlerOpts = o }
}

// withWrap puts w around the handler in the test server.
func withWrap(w func(http.Handler) http.Handler) envOption {
	return func(c *envConfig) { c.wrap = w }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var c envConfig
	for _, o := range opts {
		o(&c)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := enginetest.NewRegistry(t, c.regOpts...)
	engOpts := append([]enginetest.EngineOption{
		enginetest.WithRegistry(reg),
		enginetest.WithEngineOptions(func(o *engine.Options) { o.Logger = logger }),
	}, c.engOpts...)
	e := enginetest.NewEngine(t, engOpts...)
	ho := c.handlerOpts
	if ho.Logger == nil {
		ho.Logger = logger
	}
	hh := NewHandler(e, &ho).(*handler)
	hh.cfg.onEvent = c.onEvent
	hh.cfg.onLocalOpen = c.onLocal
	var h http.Handler = hh
	if c.wrap != nil {
		h = c.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{reg: reg, e: e, srv: srv, logs: logs}
}

// ref is a fully qualified name in the env's registry.
func (v *env) ref(repoTag string) string { return v.reg.Host + "/" + repoTag }

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// post sends POST path?query with the given headers and reads the answer.
func (v *env) post(t *testing.T, path string, query url.Values, header http.Header) answer {
	t.Helper()
	return v.do(t, http.MethodPost, path+"?"+query.Encode(), header)
}

// pull posts to the versioned pull endpoint, as Podman's bindings do.
func (v *env) pull(t *testing.T, query url.Values, header http.Header) answer {
	t.Helper()
	return v.post(t, "/v5.8.0/libpod/images/pull", query, header)
}

func (v *env) do(t *testing.T, method, target string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, v.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := v.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// q builds a query from key, value pairs.
func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// errorBody checks that a is libpod's error answer with status and returns
// the body.
func (a answer) errorBody(t *testing.T, status int) ErrorModel {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want exactly application/json", ct)
	}
	var m ErrorModel
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	if m.ResponseCode != status || m.Message == "" || m.Because == "" {
		t.Errorf("error body %+v: want response %d, a message and a cause", m, status)
	}
	if strings.Contains(m.Message, "\n") || strings.Contains(m.Because, "\n") {
		t.Errorf("error body %+v is not on one line", m)
	}
	return m
}

// compatErrorBody checks that a is an error answer of compat mode: libpod's
// error body for parameter errors, Docker's {"message"} for pull errors.
func (a answer) compatErrorBody(t *testing.T, status int) string {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want exactly application/json", ct)
	}
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(a.body, &m); err != nil || m.Message == "" {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	return m.Message
}

// lines decodes a streamed answer: one PullReport per line.
func (a answer) lines(t *testing.T) []progress.PullReport {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var out []progress.PullReport
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r progress.PullReport
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatalf("empty stream")
	}
	return out
}

// bindingsReport is Podman's entities.ImagePullReport as the Go bindings
// (v5.8.0, pkg/bindings/images/pull.go) decode it.
type bindingsReport struct {
	Status   string   `json:"status,omitempty"`
	Stream   string   `json:"stream,omitempty"`
	Error    string   `json:"error,omitempty"`
	Images   []string `json:"images,omitempty"`
	ID       string   `json:"id,omitempty"`
	Progress *struct {
		Status              string `json:"status,omitempty"`
		Current             uint64 `json:"current,omitempty"`
		Total               int64  `json:"total,omitempty"`
		ProgressComponentID string `json:"progressComponentID,omitempty"`
	} `json:"pullProgress,omitempty"`
}

// bindingsPull reads an answer with the rules of Podman's Go bindings'
// images.Pull: a non-2xx answer is its ErrorModel; a stream is decoded
// report by report, each needing stream, error, images or id, and the
// errors are joined.
func (a answer) bindingsPull() (images []string, err error) {
	if a.status < 200 || a.status > 299 {
		var m ErrorModel
		if a.header.Get("Content-Type") != "application/json" {
			return nil, fmt.Errorf("status %d with Content-Type %q: the bindings would not decode it", a.status, a.header.Get("Content-Type"))
		}
		if err := json.Unmarshal(a.body, &m); err != nil {
			return nil, fmt.Errorf("status %d, undecodable body: %w", a.status, err)
		}
		return nil, m
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	var errs []error
	for {
		var r bindingsReport
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			errs = append(errs, fmt.Errorf("failed to decode message from stream: %w", err))
			break
		}
		switch {
		case r.Stream != "":
		case r.Error != "":
			errs = append(errs, errors.New(r.Error))
		case len(r.Images) > 0:
			images = r.Images
		case r.ID != "":
		default:
			return images, fmt.Errorf("failed to parse pull results stream, unexpected input: %v", r)
		}
	}
	return images, errors.Join(errs...)
}

// Error makes ErrorModel an error for bindingsPull, as in Podman.
func (e ErrorModel) Error() string { return e.Message }

// blocker is registry middleware that parks the requests it matches until
// the test releases them (or their client gives up), and tells the test
// when one arrives.
type blocker struct {
	match   enginetest.RequestMatcher
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlocker(match enginetest.RequestMatcher) *blocker {
	return &blocker{match: match, arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocker) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.match(r) {
			select {
			case b.arrived <- struct{}{}:
			default:
			}
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Release lets the parked requests (and all later ones) through.
func (b *blocker) Release() { b.once.Do(func() { close(b.release) }) }

// wait waits for a matching request to arrive, bounded by the test's
// deadline.
func (b *blocker) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	select {
	case <-b.arrived:
	case <-ctx.Done():
		t.Fatal("no request reached the registry")
	}
}

// testContext is bounded by the test's deadline, if any.
func testContext(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// authHeader encodes v as an X-Registry-Auth header, as Podman's bindings
// do (base64url of JSON).
func authHeader(t *testing.T, v any) http.Header {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"X-Registry-Auth": {base64.URLEncoding.EncodeToString(b)}}
}

// jsonNewDecoder decodes one JSON value from b.
func jsonNewDecoder(b []byte) *json.Decoder { return json.NewDecoder(bytes.NewReader(b)) }
