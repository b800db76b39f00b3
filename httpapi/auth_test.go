package httpapi

import (
	"encoding/base64"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
)

// X-Registry-Auth in both of libpod's forms (and X-Registry-Config), with a
// password that must never appear in an answer or a log.
func TestRegistryAuth(t *testing.T) {
	t.Parallel()
	// The Engine's temporary directory, where it writes the auth file of
	// per-registry credentials for the duration of a pull.
	tmp := t.TempDir()
	v := newEnv(t,
		withRegistryOptions(enginetest.WithTokenAuth("alice", canary)),
		withEngineOptions(enginetest.WithEngineOptions(func(o *engine.Options) {
			o.SystemContext.BigFilesTemporaryDir = tmp
		})))
	v.reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
	ref := v.ref("private/app:v1")
	userPass := map[string]string{"username": "alice", "password": canary}
	b64 := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + canary))

	cases := []struct {
		name   string
		header http.Header
		status int
	}{
		{"single", authHeader(t, userPass), 200},
		{"single, auth field", authHeader(t, map[string]string{"auth": basic}), 200},
		{"single, unpadded standard base64", http.Header{"X-Registry-Auth": {strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(`{"username":"alice","password":"`+canary+`"}`)), "=")}}, 200},
		{"single, wrong password", authHeader(t, map[string]string{"username": "alice", "password": canary + "-wrong"}), 401},
		{"map", authHeader(t, map[string]any{v.reg.Host: userPass}), 200},
		{"map, URL key", authHeader(t, map[string]any{"http://" + v.reg.Host + "/v1/": userPass}), 200},
		{"map, repository key", authHeader(t, map[string]any{v.reg.Host + "/private": map[string]string{"auth": basic}}), 200},
		{"map, another registry only", authHeader(t, map[string]any{"quay.io": userPass}), 401},
		{"config header", http.Header{"X-Registry-Config": {b64(`{"` + v.reg.Host + `":{"username":"alice","password":"` + canary + `"}}`)}}, 200},
		{"config header, default entry", http.Header{"X-Registry-Config": {b64(`{"":{"username":"alice","password":"` + canary + `"}}`)}}, 200},
		{"empty map, as the bindings send", http.Header{"X-Registry-Auth": {"e30="}}, 401},
		{"null", http.Header{"X-Registry-Auth": {b64("null")}}, 401},
		{"none", nil, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"stream", "quiet"} {
				query := q("reference", ref, "retry", "0")
				if mode == "quiet" {
					query.Set("quiet", "true")
				}
				// podman 4.3.1 also sends the password in the query.
				query.Set("password", canary)
				a := v.pull(t, query, c.header)
				if c.status == 200 {
					if mode == "stream" {
						if last := checkStream(t, a.lines(t)); last.Status != "success" {
							t.Errorf("%s: %+v", mode, last)
						}
					} else if a.status != 200 {
						t.Errorf("%s: status %d: %s", mode, a.status, a.body)
					}
				} else {
					a.errorBody(t, c.status)
				}
				if strings.Contains(string(a.body), canary) || strings.Contains(string(a.body), basic) {
					t.Errorf("%s: the answer holds the password: %s", mode, a.body)
				}
				for k, vs := range a.header {
					if strings.Contains(strings.Join(vs, " "), canary) {
						t.Errorf("%s: header %s holds the password", mode, k)
					}
				}
			}
		})
	}
	logs := v.logs.String()
	if strings.Contains(logs, canary) || strings.Contains(logs, basic) {
		t.Errorf("the password reached the logs:\n%s", logs)
	}
	// The per-registry credentials were written for each pull, and removed.
	var left []string
	_ = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "auth.json" {
			left = append(left, path)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("temporary auth files left behind: %v", left)
	}
}
