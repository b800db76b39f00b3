package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

const responsesDir = "../../testdata/registry-responses"

// Credentials from --authfile or REGISTRY_AUTH_FILE alone count as given:
// the registry's refusal is "authentication failed with the given
// credentials", not the anonymous "does not exist or requires
// authentication" (issue 22, 12).
func TestCLIAuthFileRefusal(t *testing.T) {
	const user, password = "alice", "cli-authfile-pa55-31d7"
	refusal := enginetest.LoadResponse(t, filepath.Join(responsesDir, "quay-missing-repo.http"))
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth(user, password),
		enginetest.Respond(enginetest.Kind(enginetest.ManifestGet), -1, refusal))
	s := newCLIStore(t, reg)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	if err := os.WriteFile(authFile, []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	// s.flags without its --authfile (an empty file of the store's).
	var flags []string
	for i := 0; i < len(s.flags); i++ {
		if s.flags[i] == "--authfile" {
			i++
			continue
		}
		flags = append(flags, s.flags[i])
	}
	name := reg.Host + "/team/app:v1"
	for _, c := range []struct {
		how  string
		env  []string
		args []string
		want string
	}{
		{"anonymous", []string{"REGISTRY_AUTH_FILE=" + s.opts.AuthFilePath}, nil, "repository does not exist or requires authentication"},
		{"--authfile", nil, []string{"--authfile", authFile}, "authentication failed with the given credentials"},
		{"REGISTRY_AUTH_FILE", []string{"REGISTRY_AUTH_FILE=" + authFile}, nil, "authentication failed with the given credentials"},
	} {
		args := append(append(append([]string{"pull"}, flags...), c.args...), name)
		code, out, errOut := cli(t, append(append([]string{}, s.env...), c.env...), args...)
		if code != 1 || !strings.Contains(errOut, ": "+c.want+": ") || strings.Contains(out+errOut, password) {
			t.Errorf("%s: exit %d, stderr %q; want %q", c.how, code, errOut, c.want)
		}
	}
}
