package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

const (
	user     = "alice"
	password = "canary-e2e-Pa55word"
)

// Right, wrong and missing credentials against distribution's htpasswd
// and token access controllers.
func TestAuth(t *testing.T) {
	t.Parallel()
	for _, auth := range []struct {
		name  string
		start func(t *testing.T) *distRegistry
	}{
		{"htpasswd", func(t *testing.T) *distRegistry {
			return newDistribution(t, withHtpasswd(t, user, password))
		}},
		{"token", func(t *testing.T) *distRegistry {
			return newDistribution(t, withTokenAuth(t, user, password))
		}},
	} {
		t.Run(auth.name, func(t *testing.T) {
			reg := auth.start(t)
			img := reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})

			for _, c := range []struct {
				name          string
				ref           string
				opts          *engine.PullOptions
				wantKind      pullerrors.Kind // Internal: success
				maybeNotFound bool
			}{
				{"right", "private/app:v1", &engine.PullOptions{Username: user, Password: password}, pullerrors.Internal, false},
				{"wrong", "private/app:v1", &engine.PullOptions{Username: user, Password: password + "-wrong"}, pullerrors.Unauthorized, false},
				{"missing", "private/app:v1", nil, pullerrors.Unauthorized, true},
				// Anonymous, a missing repository looks like a private one.
				{"missing/unknown repository", "nobody/here:v1", nil, pullerrors.Unauthorized, true},
				// With credentials, distribution tells the truth.
				{"right/unknown repository", "nobody/here:v1", &engine.PullOptions{Username: user, Password: password}, pullerrors.NotFound, false},
			} {
				t.Run(c.name, func(t *testing.T) {
					e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))
					res, err := e.Pull(context.Background(), reg.Host+"/"+c.ref, policy.Always, c.opts)
					if c.wantKind == pullerrors.Internal {
						if err != nil || res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) {
							t.Fatalf("Pull = %+v, %v; want pulled %s", res, err, enginetest.ID(t, img))
						}
						return
					}
					if k := pullerrors.Classify(err); k != c.wantKind {
						t.Fatalf("kind %v, want %v: %v", k, c.wantKind, err)
					}
					if want := map[pullerrors.Kind]int{pullerrors.Unauthorized: 401, pullerrors.NotFound: 404}[c.wantKind]; pullerrors.HTTPStatus(err) != want {
						t.Errorf("status %d, want %d", pullerrors.HTTPStatus(err), want)
					}
					var pe *pullerrors.PullError
					if !errors.As(err, &pe) {
						t.Fatalf("%T is not a *PullError: %v", err, err)
					}
					if pe.MaybeNotFound != c.maybeNotFound {
						t.Errorf("MaybeNotFound = %v, want %v: %v", pe.MaybeNotFound, c.maybeNotFound, err)
					}
					if c.maybeNotFound && !strings.Contains(err.Error(), "does not exist or requires authentication") {
						t.Errorf("message %q does not say the image may not exist", err)
					}
					for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
						if strings.Contains(form, password) {
							t.Errorf("the password leaked into the error: %s", form)
						}
					}
				})
			}
		})
	}
}
