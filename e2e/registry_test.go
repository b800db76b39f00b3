package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// engineUA is the User-Agent of the engines under test. Requests are
// attributed by it: the fixtures' pushes (go-containerregistry) and a
// pull-through cache's fetches from its upstream (distribution) carry
// their own, so counts never need resetting after a push.
const engineUA = "pullengine-e2e"

// newEngine is enginetest.NewEngine with the engine's User-Agent set.
func newEngine(t *testing.T, opts ...enginetest.EngineOption) *engine.Engine {
	t.Helper()
	opts = append(opts, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.SystemContext.DockerRegistryUserAgent = engineUA
	}))
	return enginetest.NewEngine(t, opts...)
}

// distRegistry is a distribution v3 registry (inmemory storage) served on
// 127.0.0.1 over plain HTTP.
type distRegistry struct {
	Host     string // 127.0.0.1:port
	URL      string // http://127.0.0.1:port
	Requests *requests

	srv   *httptest.Server
	auth  authn.Authenticator // for the fixtures' pushes
	token http.Handler        // serves tokenPath, when set
}

type distOption func(*configuration.Configuration, *distRegistry)

// withAuth configures an access controller ("htpasswd", "token") and the
// credentials the fixtures push with.
func withAuth(kind string, params configuration.Parameters, push authn.Authenticator) distOption {
	return func(c *configuration.Configuration, r *distRegistry) {
		c.Auth = configuration.Auth{kind: params}
		r.auth = push
	}
}

// withProxy makes the registry a pull-through cache of remoteURL.
func withProxy(remoteURL string) distOption {
	return func(c *configuration.Configuration, _ *distRegistry) {
		noTTL := time.Duration(0) // no expiry scheduler goroutine
		c.Proxy = configuration.Proxy{RemoteURL: remoteURL, TTL: &noTTL}
	}
}

// newDistribution starts a registry; t.Cleanup stops it.
func newDistribution(t *testing.T, opts ...distOption) *distRegistry {
	t.Helper()
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.HTTP.Secret = "e2e-secret"
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		"delete":      configuration.Parameters{"enabled": true},
	}
	// Listen first: a token realm must name the registry's own address.
	r := &distRegistry{Requests: &requests{}, auth: authn.Anonymous, srv: httptest.NewUnstartedServer(nil)}
	r.Host = r.srv.Listener.Addr().String()
	r.URL = "http://" + r.Host
	for _, o := range opts {
		o(cfg, r)
	}
	app := handlers.NewApp(context.Background(), cfg)
	var h http.Handler = app
	if r.token != nil {
		mux := http.NewServeMux()
		mux.Handle(tokenPath, r.token)
		mux.Handle("/", app)
		h = mux
	}
	r.srv.Config.Handler = r.Requests.counting(h)
	r.srv.Start()
	t.Cleanup(func() {
		r.srv.Close()
		_ = app.Shutdown()
	})
	return r
}

// Down closes the registry: clients get "connection refused".
func (r *distRegistry) Down() { r.srv.Close() }

func (r *distRegistry) ref(t *testing.T, ref string) name.Reference {
	t.Helper()
	n, err := name.ParseReference(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// PushImage stores img under ref ("repo:tag", no host).
func (r *distRegistry) PushImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	if err := remote.Write(r.ref(t, ref), img, remote.WithAuth(r.auth)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// Push stores a one-layer image holding files under ref and returns it.
func (r *distRegistry) Push(t *testing.T, ref string, files enginetest.Files) v1.Image {
	t.Helper()
	img := enginetest.NewImage(t, enginetest.WithLayer(t, files))
	r.PushImage(t, ref, img)
	return img
}

// PushIndex stores idx under ref.
func (r *distRegistry) PushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	if err := remote.WriteIndex(r.ref(t, ref), idx, remote.WithAuth(r.auth)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// requestKind classifies a request by what it asks for.
type requestKind string

const (
	ping         requestKind = "ping"
	manifestHead requestKind = "manifest-head"
	manifestGet  requestKind = "manifest-get"
	blobHead     requestKind = "blob-head"
	blobGet      requestKind = "blob-get"
	tokenReq     requestKind = "token"
	other        requestKind = "other"
)

func kindOf(r *http.Request) requestKind {
	p := r.URL.Path
	switch {
	case p == tokenPath:
		return tokenReq
	case p == "/v2/" || p == "/v2":
		return ping
	case strings.Contains(p, "/manifests/") && r.Method == http.MethodHead:
		return manifestHead
	case strings.Contains(p, "/manifests/") && r.Method == http.MethodGet:
		return manifestGet
	case strings.Contains(p, "/blobs/uploads"):
		return other
	case strings.Contains(p, "/blobs/") && r.Method == http.MethodHead:
		return blobHead
	case strings.Contains(p, "/blobs/") && r.Method == http.MethodGet:
		return blobGet
	}
	return other
}

// request is one request served, with the registry's answer.
type request struct {
	Kind      requestKind
	Method    string
	Path      string
	UserAgent string
	Status    int
	// Code is the first error code of an error body ("MANIFEST_UNKNOWN").
	Code string
}

func (q request) String() string {
	s := q.Method + " " + q.Path + " → " + http.StatusText(q.Status)
	if q.Code != "" {
		s += " " + q.Code
	}
	return s
}

// requests records what a registry served.
type requests struct {
	mu  sync.Mutex
	log []request
}

func (q *requests) counting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		entry := request{Kind: kindOf(r), Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent(), Status: rec.status}
		if rec.status >= 400 {
			var body struct {
				Errors []struct{ Code string } `json:"errors"`
			}
			if json.Unmarshal(rec.errBody.Bytes(), &body) == nil && len(body.Errors) > 0 {
				entry.Code = body.Errors[0].Code
			}
		}
		q.mu.Lock()
		q.log = append(q.log, entry)
		q.mu.Unlock()
	})
}

// Engine returns the requests the engines under test made (by User-Agent).
func (q *requests) Engine() []request {
	return q.filter(func(r request) bool { return r.UserAgent == engineUA })
}

// Others returns the requests of everyone else: fixture pushes, a cache's
// fetches from its upstream.
func (q *requests) Others() []request {
	return q.filter(func(r request) bool { return r.UserAgent != engineUA })
}

func (q *requests) filter(keep func(request) bool) []request {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []request
	for _, r := range q.log {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// Count is the number of the engines' requests of kind k.
func (q *requests) Count(k requestKind) int {
	n := 0
	for _, r := range q.Engine() {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// Reset forgets everything recorded.
func (q *requests) Reset() {
	q.mu.Lock()
	q.log = nil
	q.mu.Unlock()
}

// recorder keeps the status and, for errors, the body.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	errBody     bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	if r.status >= 400 && r.errBody.Len() < 4096 {
		r.errBody.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes through (distribution flushes blob bodies).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
