package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// RegistryCredentials serve the registry they name, and only it; they
// exclude AuthFilePath; printing them never shows a secret.
func TestRegistryCredentials(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth("alice", canary))
	reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
	ref := reg.Host + "/private/app:v1"
	alice := engine.Credentials{Username: "alice", Password: canary}
	ctx := context.Background()
	zero := 0

	cases := []struct {
		name     string
		opts     engine.PullOptions
		wantKind pullerrors.Kind // Internal: success
	}{
		{"for the registry", engine.PullOptions{RegistryCredentials: map[string]engine.Credentials{reg.Host: alice}}, pullerrors.Internal},
		{"for another registry", engine.PullOptions{RegistryCredentials: map[string]engine.Credentials{"quay.io": alice}}, pullerrors.Unauthorized},
		{"with an auth file", engine.PullOptions{RegistryCredentials: map[string]engine.Credentials{reg.Host: alice}, AuthFilePath: "/nonexistent/auth.json"}, pullerrors.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
			c.opts.MaxRetries = &zero
			_, err := e.Pull(ctx, ref, policy.Always, &c.opts)
			if c.wantKind == pullerrors.Internal {
				if err != nil {
					t.Fatalf("pull: %v", err)
				}
				return
			}
			if k := pullerrors.Classify(err); k != c.wantKind {
				t.Fatalf("kind %s, want %s: %v", k, c.wantKind, err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, engine.PullOptions{RegistryCredentials: map[string]engine.Credentials{reg.Host: alice}}); strings.Contains(s, canary) {
			t.Errorf("%s of the options shows the password: %s", verb, s)
		}
	}
}
