package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
)

// failWithHeader answers the matching requests with status, a registry
// error body and the extra header, always.
func failWithHeader(match enginetest.RequestMatcher, status int, code, key, value string) enginetest.RegistryOption {
	return enginetest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set(key, value)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"slow down"}]}`, code)
		})
	})
}

var manifests = enginetest.Kind(enginetest.ManifestGet, enginetest.ManifestHead)

// statusCase is a pull that fails before any blob moved, and the status
// every mode must answer it with.
type statusCase struct {
	name   string
	setup  func(t *testing.T) (*env, url.Values, http.Header)
	status int
	kind   pullerrors.Kind
}

var statusCases = []statusCase{
	{"tag not found", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("team/app:v2")), nil
	}, 404, pullerrors.NotFound},
	{"repository not found", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		return v, q("reference", v.ref("team/nothing:v1")), nil
	}, 404, pullerrors.NotFound},
	{"short name not found anywhere", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		return v, q("reference", "nothing"), nil
	}, 404, pullerrors.NotFound},
	{"platform not found", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		v.reg.PushIndex(t, "team/multi:v1",
			enginetest.NewImage(t, enginetest.WithPlatform("linux", "amd64", "")),
			enginetest.NewImage(t, enginetest.WithPlatform("linux", "arm64", "v8")))
		return v, q("reference", v.ref("team/multi:v1"), "OS", "linux", "Arch", "s390x"), nil
	}, 404, pullerrors.PlatformNotFound},
	{"policy never, not local", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("team/app:v1"), "policy", "never"), nil
	}, 404, pullerrors.NotFound},
	{"anonymous on a private registry", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t, withRegistryOptions(enginetest.WithTokenAuth("alice", canary)))
		v.reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("private/app:v1")), nil
	}, 401, pullerrors.Unauthorized},
	{"wrong password", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t, withRegistryOptions(enginetest.WithTokenAuth("alice", canary+"-right")))
		v.reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("private/app:v1")), authHeader(t, map[string]string{"username": "alice", "password": canary})
	}, 401, pullerrors.Unauthorized},
	{"denied", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t, withRegistryOptions(enginetest.FailWith(manifests, -1, 403, "DENIED", "requested access to the resource is denied")))
		v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("team/app:v1")), authHeader(t, map[string]string{"username": "alice", "password": canary})
	}, 403, pullerrors.Denied},
	{"rate limited", func(t *testing.T) (*env, url.Values, http.Header) {
		// Retry-After: 0 keeps c/image's own 429 retries instant.
		v := newEnv(t, withRegistryOptions(failWithHeader(manifests, 429, "TOOMANYREQUESTS", "Retry-After", "0")))
		v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("team/app:v1"), "retry", "0"), nil
	}, 429, pullerrors.RateLimited},
	{"registry unavailable", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t, withRegistryOptions(enginetest.FailWith(manifests, -1, 503, "UNAVAILABLE", "maintenance")))
		v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
		return v, q("reference", v.ref("team/app:v1"), "retry", "1", "retryDelay", "1ms"), nil
	}, 503, pullerrors.Unavailable},
	{"registry down", func(t *testing.T) (*env, url.Values, http.Header) {
		v := newEnv(t)
		v.reg.Down()
		return v, q("reference", v.ref("team/app:v1"), "retry", "0"), nil
	}, 503, pullerrors.Unavailable},
}

// A pull that fails before any blob moved is answered with the classified
// status and libpod's error body, in every mode.
func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	for _, c := range statusCases {
		t.Run(c.name, func(t *testing.T) {
			v, query, header := c.setup(t)
			for _, mode := range []string{"stream", "pullProgress", "quiet", "compatMode"} {
				qq := url.Values{}
				for k, vs := range query {
					qq[k] = vs
				}
				if mode != "stream" {
					qq.Set(mode, "true")
				}
				a := v.pull(t, qq, header)
				if mode == "compatMode" {
					a.compatErrorBody(t, c.status)
					continue
				}
				m := a.errorBody(t, c.status)
				if !strings.Contains(v.logs.String(), "kind="+c.kind.String()) {
					t.Errorf("%s: the log has no kind=%s", mode, c.kind)
				}
				// What Podman's Go bindings make of it.
				_, err := a.bindingsPull()
				var em ErrorModel
				if !errors.As(err, &em) || em.ResponseCode != c.status || em.Message != m.Message {
					t.Errorf("%s: the bindings would return %v", mode, err)
				}
			}
			if strings.Contains(v.logs.String(), canary) {
				t.Errorf("a credential reached the logs")
			}
		})
	}
}
