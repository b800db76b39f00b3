package engine_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// authJSON is an auth file holding alice's credentials for each key.
func authJSON(keys ...string) string {
	var entries []string
	for _, k := range keys {
		entries = append(entries, fmt.Sprintf("%q:{\"auth\":%q}", k, base64.StdEncoding.EncodeToString([]byte(faultUser+":"+faultCanary))))
	}
	return `{"auths":{` + strings.Join(entries, ",") + `}}`
}

// A refusal of credentials that came from an auth file only (no
// Username/Password) is a refusal of the given credentials, not the
// anonymous "does not exist or requires authentication"; what counts is
// the registry containers/image contacted, after registries.conf's
// location rewrite (issue 22, 12).
func TestAuthFileCredentialsCountAsAuthenticated(t *testing.T) {
	quayRefusal := enginetest.LoadResponse(t, filepath.Join(responsesDir, "quay-missing-repo.http"))
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth(faultUser, faultCanary),
		enginetest.Respond(enginetest.Kind(enginetest.ManifestGet), -1, quayRefusal))
	// example.test/team is rewritten to the kit's registry.
	rewrite := fmt.Sprintf("[[registry]]\nprefix = \"example.test/team\"\nlocation = \"%s/team\"\ninsecure = true\n", reg.Host)
	direct, rewritten := reg.Host+"/"+faultRepo+":"+faultTag, "example.test/"+faultRepo+":"+faultTag

	for _, c := range []struct {
		name          string
		auth          string // the Engine's auth file
		ref           string
		opts          func(t *testing.T) *engine.PullOptions
		authenticated bool
	}{
		{name: "anonymous", ref: direct, authenticated: false},
		{name: "the Engine's auth file", auth: authJSON(reg.Host), ref: direct, authenticated: true},
		{name: "a repository-scoped auth file entry", auth: authJSON(reg.Host + "/" + faultRepo), ref: direct, authenticated: true},
		{name: "PullOptions.AuthFilePath", ref: direct, authenticated: true, opts: func(t *testing.T) *engine.PullOptions {
			path := filepath.Join(t.TempDir(), "auth.json")
			if err := os.WriteFile(path, []byte(authJSON(reg.Host)), 0o600); err != nil {
				t.Fatal(err)
			}
			return &engine.PullOptions{AuthFilePath: path}
		}},
		{name: "RegistryCredentials", ref: direct, authenticated: true, opts: func(*testing.T) *engine.PullOptions {
			return &engine.PullOptions{RegistryCredentials: map[string]engine.Credentials{reg.Host: {Username: faultUser, Password: faultCanary}}}
		}},
		{name: "credentials for another registry", auth: authJSON("quay.io"), ref: direct, authenticated: false},
		// The rewritten location is the host asked; the name's own host is
		// not contacted, so its credentials are not sent.
		{name: "rewritten: credentials for the location", auth: authJSON(reg.Host), ref: rewritten, authenticated: true},
		{name: "rewritten: credentials for the prefix only", auth: authJSON("example.test"), ref: rewritten, authenticated: false},
		// Username/Password go to the name's registry only (containers/image
		// drops them for another host).
		{name: "rewritten: explicit credentials", ref: rewritten, authenticated: false, opts: func(*testing.T) *engine.PullOptions {
			return &engine.PullOptions{Username: faultUser, Password: faultCanary}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := []enginetest.EngineOption{enginetest.WithRegistry(reg), enginetest.WithRegistriesConf(rewrite)}
			if c.auth != "" {
				opts = append(opts, enginetest.WithAuthJSON(c.auth))
			}
			e := enginetest.NewEngine(t, opts...)
			var po *engine.PullOptions
			if c.opts != nil {
				po = c.opts(t)
			}
			_, err := e.Pull(context.Background(), c.ref, policy.Always, po)
			var pe *pullerrors.PullError
			if !errors.As(err, &pe) || pe.Kind != pullerrors.Unauthorized || pullerrors.HTTPStatus(err) != 401 {
				t.Fatalf("%v; want unauthorized (401)", err)
			}
			if len(pe.Candidates) != 1 || pe.Candidates[0].Authenticated != c.authenticated || pe.MaybeNotFound == c.authenticated {
				t.Errorf("candidates %+v, MaybeNotFound %t; want Authenticated %t", pe.Candidates, pe.MaybeNotFound, c.authenticated)
			}
			want := "repository does not exist or requires authentication"
			if c.authenticated {
				want = "authentication failed with the given credentials"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q; want %q", err, want)
			}
			assertNoCanary(t, err, "")
		})
	}
}
