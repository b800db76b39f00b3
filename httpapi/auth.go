package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/pullengine/pullengine/engine"
)

// The headers carrying registry credentials, as in Docker's and libpod's
// APIs.
const (
	headerRegistryAuth   = "X-Registry-Auth"
	headerRegistryConfig = "X-Registry-Config"
)

// authConfig is one set of credentials as Docker's API types.AuthConfig
// carries it. Auth ("user:password" in base64, as in auth files) is read
// when Username is empty; Podman ignores it, Docker clients send it.
type authConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// resolve fills Username and Password from Auth when they are empty.
func (a authConfig) resolve() authConfig {
	if a.Username != "" || a.Password != "" || a.Auth == "" {
		return a
	}
	raw, err := base64.StdEncoding.DecodeString(a.Auth)
	if err != nil {
		return a
	}
	a.Username, a.Password, _ = strings.Cut(string(raw), ":")
	return a
}

// credentials is what a request's headers say about registry credentials:
// one set for every registry (single), or one per registry (perRegistry,
// keyed as in an auth file), or nothing.
type credentials struct {
	single      *authConfig
	perRegistry map[string]authConfig
}

// requestCredentials reads X-Registry-Config (a map, libpod's build
// header) or else X-Registry-Auth (a single set or a map), as libpod's
// auth.GetCredentials. The errors never quote the header: it holds
// secrets.
func requestCredentials(r *http.Request) (credentials, error) {
	if v := r.Header.Values(headerRegistryConfig); len(v) > 0 {
		return registryConfigHeader(v)
	}
	if v := r.Header.Values(headerRegistryAuth); len(v) > 0 {
		return registryAuthHeader(v[0])
	}
	return credentials{}, nil
}

// registryAuthHeader reads X-Registry-Auth: a map from registry to
// credentials, or else a single set of credentials. "", "null" and an
// empty map ("e30=", what Podman's bindings send without credentials) mean
// none.
func registryAuthHeader(h string) (credentials, error) {
	raw, err := decodeBase64(h)
	if err != nil {
		return credentials{}, badRequestf("failed to parse \"X-Registry-Auth\" header: it is not base64url-encoded")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return credentials{}, nil
	}
	var m map[string]authConfig
	if err := json.Unmarshal(raw, &m); err == nil {
		return credentials{perRegistry: m}, nil
	}
	var one authConfig
	if err := json.Unmarshal(raw, &one); err != nil {
		return credentials{}, badRequestf("failed to parse \"X-Registry-Auth\" header: it is not JSON credentials ({\"username\",\"password\"}, {\"identitytoken\"} or a map of registries to those)")
	}
	one = one.resolve()
	return credentials{single: &one}, nil
}

// registryConfigHeader reads X-Registry-Config headers: maps from registry
// to credentials, merged; the "" key holds credentials for every registry.
func registryConfigHeader(hs []string) (credentials, error) {
	var c credentials
	for _, h := range hs {
		raw, err := decodeBase64(h)
		if err != nil {
			return credentials{}, badRequestf("failed to parse \"X-Registry-Config\" header: it is not base64url-encoded")
		}
		if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var m map[string]authConfig
		if err := json.Unmarshal(raw, &m); err != nil {
			return credentials{}, badRequestf("failed to parse \"X-Registry-Config\" header: it is not a JSON map of registries to credentials")
		}
		for k, v := range m {
			if c.perRegistry == nil {
				c.perRegistry = map[string]authConfig{}
			}
			c.perRegistry[k] = v
		}
	}
	if def, ok := c.perRegistry[""]; ok {
		def = def.resolve()
		c.single = &def
		delete(c.perRegistry, "")
	}
	return c, nil
}

// decodeBase64 decodes base64url as Docker clients write it, and the
// standard alphabet and unpadded forms some clients use.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// registryCredentials converts the per-registry credentials of the
// headers for PullOptions.RegistryCredentials (nil when there are none).
func (c credentials) registryCredentials() map[string]engine.Credentials {
	if len(c.perRegistry) == 0 {
		return nil
	}
	out := make(map[string]engine.Credentials, len(c.perRegistry))
	for key, a := range c.perRegistry {
		a = a.resolve()
		out[key] = engine.Credentials{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
	}
	return out
}
