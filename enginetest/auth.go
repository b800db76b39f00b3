package enginetest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

const tokenPath = "/token"

// WithBasicAuth requires HTTP Basic credentials on every /v2/ request, as
// a self-hosted registry with htpasswd does.
func WithBasicAuth(user, password string) RegistryOption {
	return func(c *registryConfig) {
		c.auth = func(_ string, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); ok && u == user && p == password {
					next.ServeHTTP(w, r)
					return
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="enginetest"`)
				writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			})
		}
	}
}

// WithTokenAuth requires a Bearer token, issued by a token endpoint on the
// same server to clients that present the credentials with Basic, as
// Docker Hub and most hosted registries do. Anonymous clients get a token
// too, which is refused on repositories with 401 and
// error="insufficient_scope" (so a client cannot tell a private repository
// from a missing one, as on Docker Hub).
func WithTokenAuth(user, password string) RegistryOption {
	return func(c *registryConfig) {
		c.auth = func(host string, next http.Handler) http.Handler {
			ta := &tokenAuth{user: user, password: password, realm: "http://" + host + tokenPath, tokens: map[string]bool{}}
			return ta.handler(next)
		}
	}
}

type tokenAuth struct {
	user, password, realm string
	mu                    sync.Mutex
	tokens                map[string]bool // token → authenticated
}

func (ta *tokenAuth) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			ta.issue(w, r)
			return
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ta.mu.Lock()
		authenticated, known := ta.tokens[token]
		ta.mu.Unlock()
		if known && authenticated {
			next.ServeHTTP(w, r)
			return
		}
		challenge := fmt.Sprintf(`Bearer realm=%q,service="enginetest"`, ta.realm)
		if scope := scopeOf(r.URL.Path); scope != "" {
			challenge += fmt.Sprintf(",scope=%q", scope)
			if known {
				challenge += `,error="insufficient_scope"`
			}
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	})
}

// issue answers the token endpoint: credentials given must be right;
// none gives an anonymous token.
func (ta *tokenAuth) issue(w http.ResponseWriter, r *http.Request) {
	u, p, given := r.BasicAuth()
	if given && (u != ta.user || p != ta.password) {
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "incorrect username or password")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	ta.mu.Lock()
	ta.tokens[token] = given
	ta.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300})
}

// scopeOf is the pull scope of a repository path, "" for /v2/.
func scopeOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok || rest == "" {
		return ""
	}
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if name, _, found := strings.Cut(rest, sep); found {
			return "repository:" + name + ":pull"
		}
	}
	return ""
}

// writeRegistryError writes an error in the distribution spec's shape.
func writeRegistryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"code": code, "message": message, "detail": nil}},
	})
}
