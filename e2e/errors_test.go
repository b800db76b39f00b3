package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// distribution's not-found answers (a missing tag, digest or repository)
// are NotFound / 404. Unlike go-containerregistry's registry, distribution
// answers MANIFEST_UNKNOWN (not NAME_UNKNOWN) for a manifest of a missing
// repository; its NAME_UNKNOWN comes from the tags list.
func TestNotFound(t *testing.T) {
	t.Parallel()
	reg := newDistribution(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := newEngine(t, enginetest.WithInsecureRegistry(reg.Host))
	missingDigest := "sha256:" + strings.Repeat("0", 64)

	for _, c := range []struct {
		name, ref string
		opts      *engine.PullOptions
		code      string // what distribution answers
	}{
		{"missing tag", "team/app:nope", nil, "MANIFEST_UNKNOWN"},
		{"missing digest", "team/app@" + missingDigest, nil, "MANIFEST_UNKNOWN"},
		{"missing repository", "nobody/here:v1", nil, "MANIFEST_UNKNOWN"},
		{"missing repository, all tags", "nobody/here", &engine.PullOptions{AllTags: true}, "NAME_UNKNOWN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg.Requests.Reset()
			_, err := e.Pull(context.Background(), reg.Host+"/"+c.ref, policy.Missing, c.opts)
			if k := pullerrors.Classify(err); k != pullerrors.NotFound {
				t.Errorf("kind %v, want not-found: %v", k, err)
			}
			if s := pullerrors.HTTPStatus(err); s != 404 {
				t.Errorf("status %d, want 404", s)
			}
			if !errors.Is(err, pullerrors.ErrNotFound) {
				t.Errorf("errors.Is(err, ErrNotFound) is false: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), c.ref) {
				t.Errorf("message %q does not name %q", err, c.ref)
			}
			var codes []string
			for _, r := range reg.Requests.Engine() {
				if r.Code != "" {
					codes = append(codes, r.Code)
				}
			}
			if len(codes) == 0 {
				t.Fatalf("distribution answered no error code: %v", reg.Requests.Engine())
			}
			for _, code := range codes {
				if code != c.code {
					t.Errorf("distribution answered %s, want %s (%v)", code, c.code, reg.Requests.Engine())
				}
			}
		})
	}
}
