package enginetest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is an in-memory registry served on 127.0.0.1. Host is what image
// names use: reg.Host + "/team/app:v1".
//
// Requests from the code under test go through, in order: request counting
// (Requests), the middleware given with WithMiddleware (faults), then
// authentication. The kit's own pushes use a second, private listener on
// the same registry, so they are neither counted nor faulted nor
// authenticated.
type Registry struct {
	// Host is "127.0.0.1:<port>".
	Host string
	// Requests counts what the code under test asked.
	Requests *Requests

	handler http.Handler
	private *httptest.Server // the kit's pushes

	mu     sync.Mutex
	server *http.Server
	down   bool

	tls   *tls.Config // WithTLS: serve HTTPS
	caPEM []byte      // WithTLS: the certificate clients must trust
}

// RegistryOption configures NewRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	middleware []func(http.Handler) http.Handler
	auth       func(host string, next http.Handler) http.Handler
	tls        bool // WithTLS
}

// WithMiddleware puts m in front of the registry (after request counting,
// before authentication). Several are applied in the order given, the first
// outermost. Fault injection is middleware: see the Fail* helpers.
func WithMiddleware(m func(http.Handler) http.Handler) RegistryOption {
	return func(c *registryConfig) { c.middleware = append(c.middleware, m) }
}

// NewRegistry starts a registry for the test; t.Cleanup stops it.
func NewRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	var cfg registryConfig
	for _, o := range opts {
		o(&cfg)
	}
	store := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r := &Registry{Requests: &Requests{}, private: httptest.NewServer(store)}
	t.Cleanup(r.private.Close)
	if cfg.tls {
		r.tls, r.caPEM = selfSignedTLS(t)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("enginetest: listening: %v", err)
	}
	r.Host = l.Addr().String()

	var h http.Handler = serveMultiRanges(openRanges(store))
	if cfg.auth != nil {
		h = cfg.auth(r.Host, h)
	}
	for i := len(cfg.middleware) - 1; i >= 0; i-- {
		h = cfg.middleware[i](h)
	}
	r.handler = r.Requests.Middleware(h)
	r.serve(l)
	t.Cleanup(func() { r.Down() })
	return r
}

func (r *Registry) serve(l net.Listener) {
	if r.tls != nil {
		l = tls.NewListener(l, r.tls)
	}
	srv := &http.Server{Handler: r.handler, ErrorLog: log.New(io.Discard, "", 0)}
	r.server = srv
	go func() { _ = srv.Serve(l) }()
}

// Down stops the registry's listener: clients now get "connection
// refused", as from a registry that is down. Content is kept for Up.
func (r *Registry) Down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return
	}
	r.down = true
	_ = r.server.Shutdown(context.Background())
}

// Up serves again, on the same address, what Down stopped.
func (r *Registry) Up(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.down {
		return
	}
	l, err := net.Listen("tcp", r.Host)
	if err != nil {
		t.Fatalf("enginetest: listening again on %s: %v", r.Host, err)
	}
	r.down = false
	r.serve(l)
}

// pushHost is the private listener's host, for the kit's own pushes.
func (r *Registry) pushHost() string { return r.private.Listener.Addr().String() }
