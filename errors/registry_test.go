package pullerrors

// End-to-end: c/image's real docker transport (docker.NewReference →
// NewImageSource, which pings, authenticates and fetches the manifest) against
// a loopback server that answers the way the named registries do
// (registry-errors-and-anchors.md §2.2). The error c/image returns goes through
// New exactly as the engine will do it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/types"
)

// canary is the password given wherever a scenario sends credentials; it
// must never appear in any rendering of the error.
const canary = "s3cr3t-CANARY-p4ss"

const repo = "library/app"

// registry describes how the fake registry answers.
type registry struct {
	tls      bool                                                      // serve TLS with an untrusted certificate
	ping     func(w http.ResponseWriter, r *http.Request, base string) // GET /v2/; nil: 200
	token    func(w http.ResponseWriter, r *http.Request)              // GET /token; nil: an anonymous token
	manifest func(w http.ResponseWriter, r *http.Request, base string) // GET /v2/<repo>/manifests/latest
	closed   bool                                                      // nobody listens
}

func bearerPing(w http.ResponseWriter, _ *http.Request, base string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+base+`/token",service="registry.test"`)
	writeJSON(w, 401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
}

func basicPing(w http.ResponseWriter, _ *http.Request, _ string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="registry.test"`)
	writeJSON(w, 401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func answer(status int, headers map[string]string, body string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		if strings.HasPrefix(body, "{") {
			writeJSON(w, status, body)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// hubInsufficientScope is Docker Hub's answer for a missing or private repository.
func hubInsufficientScope(w http.ResponseWriter, _ *http.Request, base string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+base+`/token",service="registry.test",scope="repository:`+repo+`:pull",error="insufficient_scope"`)
	writeJSON(w, 401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"`+repo+`","Action":"pull"}]}]}`)
}

// pull runs c/image's docker source against reg and returns its error.
func (reg registry) pull(t *testing.T, ctx context.Context, creds bool) error {
	t.Helper()
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			if reg.ping == nil {
				w.WriteHeader(200)
				return
			}
			reg.ping(w, r, base)
		case "/v2/" + repo + "/manifests/latest":
			reg.manifest(w, r, base)
		default:
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if reg.token != nil {
			reg.token(w, r)
			return
		}
		writeJSON(w, 200, `{"token":"anon-t0k3n","expires_in":300}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = quietLog // c/image's https-first probe of a plain server
	if reg.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	base = srv.URL
	host := srv.Listener.Addr().String()
	if reg.closed {
		srv.Close()
	}

	ref, err := docker.ParseReference("//" + host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ref.NewImageSource(ctx, testSystemContext(t, !reg.tls, creds))
	if err == nil {
		src.Close()
		t.Fatal("NewImageSource succeeded")
	}
	return err
}

// testSystemContext keeps c/image away from /etc/containers and ~/.docker.
func testSystemContext(t *testing.T, insecure, creds bool) *types.SystemContext {
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(dir, "registries.conf.d"),
		RegistriesDirPath:           filepath.Join(dir, "registries.d"),
		AuthFilePath:                filepath.Join(dir, "auth.json"),
		DockerPerHostCertDirPath:    filepath.Join(dir, "certs.d"),
		DockerInsecureSkipTLSVerify: types.OptionalBoolFalse,
	}
	if insecure {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue // https first, then plain http
	}
	if creds {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: "user", Password: canary}
	}
	return sys
}

// TestRegistryAnswers is the fault table: how each registry behaviour ends
// up, as the engine reports it.
func TestRegistryAnswers(t *testing.T) {
	tests := []struct {
		name          string
		reg           registry
		creds         bool
		ctx           func() (context.Context, context.CancelFunc)
		kind          Kind
		status        int
		retryable     bool
		maybeNotFound bool
		says          string // in the message
		endsWith      string // the registry's own words, last
	}{
		{
			name: "distribution: missing tag (MANIFEST_UNKNOWN, default message)",
			reg:  registry{manifest: answer(404, nil, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":null}]}`)},
			kind: NotFound, status: 404, says: "image not found", endsWith: "manifest unknown",
		},
		{
			name: "distribution: missing repository (NAME_UNKNOWN with detail)",
			reg:  registry{manifest: answer(404, nil, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"library/app"}}]}`)},
			kind: NotFound, status: 404, endsWith: "repository name not known to registry",
		},
		{
			name: "ECR: missing repository (NAME_UNKNOWN, own words)",
			reg:  registry{manifest: answer(404, nil, `{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'library/app' does not exist in the registry with id '123456789012'"}]}`)},
			kind: NotFound, status: 404, endsWith: "does not exist in the registry with id '123456789012'",
		},
		{
			name: "quay: HTML 404",
			reg:  registry{manifest: answer(404, nil, "<html><body><h1>404 Not Found</h1></body></html>")},
			kind: NotFound, status: 404,
		},
		{
			name: "Docker Hub: missing or private repository, anonymous (401 insufficient_scope)",
			reg:  registry{ping: bearerPing, manifest: hubInsufficientScope},
			kind: Unauthorized, status: 401, maybeNotFound: true,
			says: "does not exist or requires authentication", endsWith: "requested access to the resource is denied",
		},
		{
			name:  "Docker Hub: missing or private repository, with credentials",
			reg:   registry{ping: bearerPing, manifest: hubInsufficientScope},
			creds: true,
			kind:  Denied, status: 403, says: "access denied for the given credentials",
		},
		{
			name:  "Docker Hub: bad credentials at the token endpoint",
			reg:   registry{ping: bearerPing, token: tokenAnswer(401, `{"details":"incorrect username or password"}`), manifest: answer(200, nil, "{}")},
			creds: true,
			kind:  Unauthorized, status: 401, says: "authentication failed with the given credentials", endsWith: "incorrect username or password",
		},
		{
			name: "Docker Hub: pull rate limit (429 TOOMANYREQUESTS)",
			reg: registry{manifest: answer(429, map[string]string{"Retry-After": "0"},
				`{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits"}]}`)},
			kind: RateLimited, status: 429, retryable: true, endsWith: "https://www.docker.com/increase-rate-limits",
		},
		{
			name: "Docker Hub: abuse limit (bare-text 429)",
			reg:  registry{manifest: answer(429, map[string]string{"Retry-After": "0"}, "Too Many Requests")},
			kind: RateLimited, status: 429, retryable: true,
		},
		{
			name: "token endpoint: 429",
			reg:  registry{ping: bearerPing, token: tokenAnswer(429, "slow down"), manifest: answer(200, nil, "{}")},
			kind: RateLimited, status: 429, retryable: true, endsWith: "too many requests to registry",
		},
		{
			name: "quay: missing or private repository (401 UNAUTHORIZED, no error= in the challenge)",
			reg: registry{ping: bearerPing, manifest: func(w http.ResponseWriter, r *http.Request, base string) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+base+`/token",service="registry.test"`)
				writeJSON(w, 401, `{"errors":[{"code":"UNAUTHORIZED","message":"access to the requested resource is not authorized","detail":{}}]}`)
			}},
			kind: Unauthorized, status: 401, maybeNotFound: true, says: "does not exist or requires authentication",
			endsWith: "access to the requested resource is not authorized",
		},
		{
			name: "Harbor: 401 for a project without access",
			reg:  registry{ping: basicPing, manifest: answer(401, map[string]string{"WWW-Authenticate": `Basic realm="harbor"`}, `{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to access repository: library/app, action: pull: unauthorized to access repository: library/app, action: pull"}]}`)},
			kind: Unauthorized, status: 401, maybeNotFound: true,
		},
		{
			name:  "ghcr: stale token, with credentials (403 DENIED)",
			reg:   registry{ping: basicPing, manifest: answer(403, nil, `{"errors":[{"code":"DENIED","message":"denied"}]}`)},
			creds: true,
			kind:  Denied, status: 403, says: "access denied for the given credentials", endsWith: "denied",
		},
		{
			name: "GAR: 403 at the token endpoint, anonymous",
			reg: registry{ping: bearerPing, manifest: answer(200, nil, "{}"),
				token: tokenAnswer(403, `{"errors":[{"code":"DENIED","message":"Permission \"artifactregistry.repositories.downloadArtifacts\" denied on resource (or it may not exist)"}]}`)},
			// The registry said 403: keep it (issue 10 item 14), with the hint.
			kind: Denied, status: 403, maybeNotFound: true, says: "does not exist or requires authentication", endsWith: "403 Forbidden",
		},
		{
			name: "explicit 403 DENIED, anonymous",
			reg:  registry{ping: basicPing, manifest: answer(403, nil, `{"errors":[{"code":"DENIED","message":"Permission denied on resource (or it may not exist)"}]}`)},
			kind: Denied, status: 403, maybeNotFound: true,
			says: "does not exist or requires authentication", endsWith: "(or it may not exist)",
		},
		{
			name: "GAR: 403 at the token endpoint, with credentials",
			reg: registry{ping: bearerPing, manifest: answer(200, nil, "{}"),
				token: tokenAnswer(403, `{"errors":[{"code":"DENIED","message":"denied"}]}`)},
			creds: true,
			kind:  Denied, status: 403,
		},
		{
			name:  "ECR: expired token (403 DENIED)",
			reg:   registry{ping: basicPing, manifest: answer(403, nil, `{"errors":[{"code":"DENIED","message":"Your authorization token has expired. Reauthenticate and try again."}]}`)},
			creds: true,
			kind:  Denied, status: 403, endsWith: "Reauthenticate and try again.",
		},
		{
			name: "500",
			reg:  registry{manifest: answer(500, nil, "oops")},
			kind: Unavailable, status: 503, retryable: true, endsWith: "500 Internal Server Error",
		},
		{
			name: "502",
			reg:  registry{manifest: answer(502, nil, "bad gateway")},
			kind: Unavailable, status: 503, retryable: true,
		},
		{
			name: "503 UNAVAILABLE",
			reg:  registry{manifest: answer(503, nil, `{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}`)},
			kind: Unavailable, status: 503, retryable: true,
		},
		{
			name: "connection refused",
			reg:  registry{closed: true},
			kind: Unavailable, status: 503, retryable: true, endsWith: "connection refused",
		},
		{
			name: "self-signed TLS without trust",
			reg:  registry{tls: true, manifest: answer(200, nil, "{}")},
			kind: TLS, status: 502, endsWith: "certificate signed by unknown authority",
		},
		{
			name: "slow registry vs the caller's deadline",
			reg: registry{manifest: func(w http.ResponseWriter, r *http.Request, _ string) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			kind: Timeout, status: 504, retryable: false,
		},
		{
			name: "caller cancels",
			reg: registry{manifest: func(w http.ResponseWriter, r *http.Request, _ string) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}},
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				return ctx, cancel
			},
			kind: Canceled, status: 499,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			raw := tc.reg.pull(t, ctx, tc.creds)
			pe := New(repo, raw, CandidateError{Name: "registry.test/" + repo + ":latest", Err: raw, Authenticated: tc.creds})
			msg := pe.Error()
			t.Logf("raw %T: %v", raw, raw)
			t.Logf("msg: %s", msg)

			if pe.Kind != tc.kind {
				t.Errorf("Kind = %s, want %s", pe.Kind, tc.kind)
			}
			if got := HTTPStatus(pe); got != tc.status {
				t.Errorf("HTTPStatus = %d, want %d", got, tc.status)
			}
			if got := Retryable(pe); got != tc.retryable {
				t.Errorf("Retryable = %t, want %t", got, tc.retryable)
			}
			if pe.MaybeNotFound != tc.maybeNotFound {
				t.Errorf("MaybeNotFound = %t, want %t", pe.MaybeNotFound, tc.maybeNotFound)
			}
			if !errors.Is(pe, tc.kind.Sentinel()) {
				t.Errorf("errors.Is(err, %s sentinel) = false", tc.kind)
			}
			if tc.says != "" && !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
			if tc.endsWith != "" && !strings.HasSuffix(msg, tc.endsWith) {
				t.Errorf("message %q does not end with the registry's words %q", msg, tc.endsWith)
			}
			if !strings.HasPrefix(msg, "pulling "+repo+" (registry.test/"+repo+":latest): ") {
				t.Errorf("message %q does not start with what failed and the reference", msg)
			}
			assertNoCanary(t, pe)
		})
	}
}

func tokenAnswer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		if strings.HasPrefix(body, "{") {
			writeJSON(w, status, body)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// assertNoCanary renders err every way a user may see it and checks that the
// canary password appears in none, and that the message is one line.
func assertNoCanary(t *testing.T, err error) {
	t.Helper()
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Error("pull failed", "err", err)
	slog.New(slog.NewTextHandler(&textLog, nil)).Error("pull failed", "err", err)
	encoded, _ := json.Marshal(map[string]any{"error": err.Error(), "kind": Classify(err)})
	renderings := map[string]string{
		"Error()":   err.Error(),
		"%v":        fmt.Sprintf("%v", err),
		"%+v":       fmt.Sprintf("%+v", err),
		"%s":        fmt.Sprintf("%s", err),
		"%q":        fmt.Sprintf("%q", err),
		"%#v":       fmt.Sprintf("%#v", err),
		"slog JSON": jsonLog.String(),
		"slog text": textLog.String(),
		"JSON body": string(encoded),
	}
	for how, s := range renderings {
		if strings.Contains(s, canary) {
			t.Errorf("%s carries the password: %s", how, s)
		}
	}
	for _, how := range []string{"Error()", "%v", "%+v"} {
		if strings.ContainsAny(renderings[how], "\r\n") {
			t.Errorf("%s is not one line: %q", how, renderings[how])
		}
	}
}
