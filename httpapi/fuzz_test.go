package httpapi

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzRegistryAuthHeader: any X-Registry-Auth value decodes to credentials
// or a 400; never a panic, and the header's secrets never reach the error.
func FuzzRegistryAuthHeader(f *testing.F) {
	for _, s := range []string{
		"", "null", "e30=", "!!!",
		base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"canary-secret"}`)),
		base64.URLEncoding.EncodeToString([]byte(`{"registry.example":{"auth":"dTpjYW5hcnktc2VjcmV0"}}`)),
		base64.URLEncoding.EncodeToString([]byte(`{"identitytoken":"canary-secret"}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"username":"u","password":"canary-secret"`)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		_, err := registryAuthHeader(h)
		if err == nil {
			return
		}
		var br *badRequest
		if !errors.As(err, &br) {
			t.Fatalf("registryAuthHeader(%q): not a 400: %v", h, err)
		}
		if strings.Contains(err.Error(), "canary-secret") {
			t.Fatalf("the error repeats a secret: %v", err)
		}
	})
}

// FuzzPullQuery: any query string parses to a request or a 400.
func FuzzPullQuery(f *testing.F) {
	for _, s := range []string{
		"reference=alpine", "reference=alpine&policy=newer&Arch=arm64&OS=linux&Variant=v8",
		"reference=x&tlsVerify=maybe", "reference=x&retry=-1&retryDelay=1x", "%zz", "reference=%00",
		"reference=oci-archive:/x.tar", "reference=alpine&allTags=true&quiet=1&pullProgress=true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := parsePullRequest(raw)
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) {
				t.Fatalf("parsePullRequest(%q): not a 400: %v", raw, err)
			}
			return
		}
		if req == nil {
			t.Fatalf("parsePullRequest(%q): nil request without error", raw)
		}
	})
}
