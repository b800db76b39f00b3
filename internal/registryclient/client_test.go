package registryclient_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryclient"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

const agent = "registryclient-test/1"

// newSys is a SystemContext that reads no host configuration: an empty
// registries.conf, an empty auth file, TLS verification off (the kit's
// registry speaks plain HTTP), and a user agent.
func newSys(t *testing.T, registriesConf string) *types.SystemContext {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	auth := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(conf, []byte(registriesConf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(auth, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return &types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(dir, "none.d"),
		AuthFilePath:                auth,
		DockerPerHostCertDirPath:    filepath.Join(dir, "certs.d"),
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
		DockerRegistryUserAgent:     agent,
	}
}

func named(t *testing.T, s string) reference.Named {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// identityTokenAuth is a token service that issues a token only for an
// OAuth2 refresh token POSTed to it (no Basic credentials), as registries
// that hand out identity tokens do. It records every request's method,
// path and user agent.
type identityTokenAuth struct {
	refresh string
	mu      sync.Mutex
	log     []string // "METHOD path user-agent"
}

func (a *identityTokenAuth) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.log = append(a.log, r.Method+" "+r.URL.Path+" "+r.UserAgent())
		a.mu.Unlock()
		if r.URL.Path == "/token" {
			if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" ||
				r.PostForm.Get("refresh_token") != a.refresh || r.PostForm.Get("scope") != "repository:id/app:pull" {
				http.Error(w, "bad token request", http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "granted"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer granted" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *identityTokenAuth) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.log...)
}

// Both users of the client (the tag lister, the range fetcher) get through
// a registry that takes only an identity token, with one token request,
// and every request carries the user agent.
func TestIdentityTokenForTagsAndRanges(t *testing.T) {
	ctx := context.Background()
	auth := &identityTokenAuth{refresh: "refresh-me"}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(auth.middleware))
	img := enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"f": strings.Repeat("x", 4096)}))
	reg.PushImage(t, "id/app:v1", img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layers[0].Digest()
	size, _ := layers[0].Size()

	sys := newSys(t, "")
	sys.DockerAuthConfig = &types.DockerAuthConfig{IdentityToken: "refresh-me"}
	c, err := registryclient.New(sys, named(t, reg.Host+"/id/app:v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()

	res, err := c.Get(ctx, "/v2/id/app/tags/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"v1"`) {
		t.Fatalf("tag list: %s %s", res.Status, body)
	}

	h := http.Header{"Range": {fmt.Sprintf("bytes=10-%d", size-1)}}
	res, err = c.Get(ctx, "/v2/id/app/blobs/"+d.String(), h)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || n != size-10 {
		t.Fatalf("ranged GET: %s, %d bytes, want 206 and %d", res.Status, n, size-10)
	}

	posts := 0
	for _, r := range auth.requests() {
		if !strings.HasSuffix(r, " "+agent) {
			t.Errorf("request without the user agent: %q", r)
		}
		if strings.HasPrefix(r, "POST /token") {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d token requests, want 1 (the token is kept): %q", posts, auth.requests())
	}
}

// Credentials are the repository's: an auth file entry for host/team/app
// wins over the host's.
func TestPerRepositoryCredentials(t *testing.T) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(t, enginetest.WithBasicAuth("u", "right"))
	reg.PushImage(t, "team/app:v1", enginetest.NewImage(t))
	reg.PushImage(t, "other/app:v1", enginetest.NewImage(t))
	sys := newSys(t, "")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	authFile := fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`,
		reg.Host, b64("u:wrong"), reg.Host+"/team/app", b64("u:right"))
	if err := os.WriteFile(sys.AuthFilePath, []byte(authFile), 0o600); err != nil {
		t.Fatal(err)
	}

	get := func(repo string) *http.Response {
		c, err := registryclient.New(sys, named(t, reg.Host+"/"+repo))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdleConnections)
		res, err := c.Get(ctx, "/v2/"+repo+"/tags/list", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	if res := get("team/app"); res.StatusCode != http.StatusOK {
		t.Errorf("team/app with its own credentials: %s", res.Status)
	}
	res := get("other/app")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("other/app with the host's wrong credentials: %s, want 401", res.Status)
	}
	if err := registryclient.ResponseError(res); !errors.Is(err, errcode.ErrorCodeUnauthorized) {
		t.Errorf("ResponseError = %v, want UNAUTHORIZED", err)
	}
}

func TestBlockedRegistryRefused(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	sys := newSys(t, fmt.Sprintf("[[registry]]\nlocation = %q\nblocked = true\n", reg.Host))
	_, err := registryclient.New(sys, named(t, reg.Host+"/a/b"))
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("New for a blocked registry: %v, want a refusal", err)
	}
	if n := len(reg.Requests.Log()); n != 0 {
		t.Errorf("the blocked registry saw %d requests", n)
	}
}

// Plain HTTP only when TLS verification is off.
func TestHTTPOnlyWhenInsecure(t *testing.T) {
	ctx := context.Background()
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "a/b:v1", enginetest.NewImage(t))
	for _, insecure := range []bool{true, false} {
		sys := newSys(t, "")
		if !insecure {
			sys.DockerInsecureSkipTLSVerify = types.OptionalBoolFalse
		}
		c, err := registryclient.New(sys, named(t, reg.Host+"/a/b"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Get(ctx, "/v2/a/b/tags/list", nil)
		if insecure {
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("insecure registry over HTTP: %v", err)
			}
			res.Body.Close()
		} else if err == nil {
			res.Body.Close()
			t.Fatalf("a secure registry was asked over plain HTTP: %s", res.Status)
		}
		c.CloseIdleConnections()
	}
}

// A hostile token endpoint: an answer past MaxAuxBody is refused, not
// read whole.
func TestTokenAnswerBounded(t *testing.T) {
	ctx := context.Background()
	huge := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				_, _ = io.WriteString(w, `{"token":"`+strings.Repeat("t", registryclient.MaxAuxBody+10)+`"}`)
				return
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token"`, r.Host))
			w.WriteHeader(http.StatusUnauthorized)
		})
	}
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(huge))
	c, err := registryclient.New(newSys(t, ""), named(t, reg.Host+"/a/b"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	_, err = c.Get(ctx, "/v2/a/b/tags/list", nil)
	if pullerrors.Classify(err) != pullerrors.Unsupported || !strings.Contains(err.Error(), fmt.Sprint(registryclient.MaxAuxBody)) {
		t.Fatalf("a token answer past the bound: %v, want an unsupported error naming the bound", err)
	}
}

// A registry error's message is kept bounded, whatever the registry sent.
func TestResponseErrorBounded(t *testing.T) {
	msg := strings.Repeat("m", 500<<10)
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"code": "DENIED", "message": msg, "detail": strings.Repeat("d", 100<<10)}}})
	res := &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(body)))}
	err := registryclient.ResponseError(res)
	var ec errcode.Error
	if !errors.As(err, &ec) || ec.Code != errcode.ErrorCodeDenied {
		t.Fatalf("ResponseError = %v, want DENIED", err)
	}
	// Of the detail only its presence is kept: it tells a body's DENIED
	// from a 401 challenge's.
	if len(err.Error()) > 1024 || ec.Detail != (struct{}{}) {
		t.Errorf("the error keeps %d bytes of message and detail %#v", len(err.Error()), ec.Detail)
	}
}

// A path that does not start with "/" would, appended to the registry's
// address, name another host: refused before any request.
func TestRelativePathRefused(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	sys := newSys(t, "")
	sys.DockerAuthConfig = &types.DockerAuthConfig{Username: "u", Password: "p"}
	c, err := registryclient.New(sys, named(t, reg.Host+"/a/b"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), ".evil.invalid/v2/a/b/tags/list", nil)
	if pullerrors.Classify(err) != pullerrors.Integrity {
		t.Fatalf("Get of a relative path: %v, want an integrity error", err)
	}
	if n := len(reg.Requests.Log()); n != 0 {
		t.Errorf("%d requests made", n)
	}
}
