package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestPing(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, path := range []string{"/_ping", "/libpod/_ping", "/v1.41/_ping", "/v5.8.0/libpod/_ping", "/v4.3.1/libpod/_ping"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			a := v.do(t, method, path, nil)
			if a.status != http.StatusOK {
				t.Errorf("%s %s: status %d", method, path, a.status)
			}
			if got := a.header.Get("Libpod-API-Version"); got != DefaultAPIVersion {
				t.Errorf("%s %s: Libpod-API-Version %q, want %q", method, path, got, DefaultAPIVersion)
			}
			want := "OK"
			if method == http.MethodHead {
				want = ""
			}
			if string(a.body) != want {
				t.Errorf("%s %s: body %q, want %q", method, path, a.body, want)
			}
		}
	}
}

func TestAPIVersionOption(t *testing.T) {
	t.Parallel()
	v := newEnv(t, withHandlerOptions(Options{APIVersion: "5.8.0"}))
	a := v.do(t, http.MethodGet, "/v5.8.0/libpod/_ping", nil)
	if got := a.header.Get("Libpod-API-Version"); got != "5.8.0" {
		t.Errorf("Libpod-API-Version %q, want 5.8.0", got)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, path := range []string{"/version", "/libpod/version", "/v5.8.0/libpod/version", "/v1.41/version"} {
		a := v.do(t, http.MethodGet, path, nil)
		if a.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, a.status, a.body)
		}
		var got componentVersion
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("%s: %v: %s", path, err, a.body)
		}
		if got.APIVersion != DefaultAPIVersion || got.MinAPIVersion != minAPIVersion || len(got.Components) != 1 ||
			got.Components[0].Name != "pullengine" || got.Components[0].Details["APIVersion"] != DefaultAPIVersion {
			t.Errorf("%s: %s", path, a.body)
		}
	}
}

func TestUnknownEndpoints(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/libpod/images/json"},
		{http.MethodPost, "/v5.8.0/libpod/containers/create"},
		{http.MethodPost, "/images/create"}, // the Docker-compatible pull is not served
		{http.MethodGet, "/vfoo/libpod/_ping"},
	} {
		v.do(t, c.method, c.path, nil).errorBody(t, http.StatusNotFound)
	}
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodGet, "/v5.8.0/libpod/images/pull", "POST"},
		{http.MethodPost, "/libpod/_ping", "GET, HEAD"},
		{http.MethodDelete, "/version", "GET"},
	} {
		a := v.do(t, c.method, c.path, nil)
		a.errorBody(t, http.StatusMethodNotAllowed)
		if got := a.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
