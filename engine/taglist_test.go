package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// The bounded tag listing authenticates as containers/image does: a Bearer
// token from the challenge's realm, with the pull's credentials; anonymous
// and wrong credentials are refused with the kinds of any other pull.
func TestAllTagsWithTokenAuth(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth("alice", "s3cret-tags"))
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx, ref := context.Background(), reg.Host+"/team/app"

	res, err := e.Pull(ctx, ref, policy.Always, &engine.PullOptions{AllTags: true, Username: "alice", Password: "s3cret-tags"})
	if err != nil || len(res.Images) != 2 {
		t.Fatalf("with credentials: %v, %+v", err, res)
	}

	_, err = e.Pull(ctx, ref, policy.Always, &engine.PullOptions{AllTags: true})
	var pe *pullerrors.PullError
	if !errors.As(err, &pe) || pe.Kind != pullerrors.Unauthorized || !pe.MaybeNotFound {
		t.Errorf("anonymous: %+v", err)
	}

	_, err = e.Pull(ctx, ref, policy.Always, &engine.PullOptions{AllTags: true, Username: "alice", Password: "wrong"})
	if k := pullerrors.Classify(err); k != pullerrors.Unauthorized || !errors.As(err, &pe) || pe.MaybeNotFound {
		t.Errorf("wrong password: %s %+v", k, err)
	}
}

// Over HTTPS the listing trusts what the pull trusts: a CertDir's CA, and
// nothing else.
func TestAllTagsOverTLS(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTLS())
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t)
	ctx, ref := context.Background(), reg.Host+"/team/app"

	if _, err := e.Pull(ctx, ref, policy.Always, &engine.PullOptions{AllTags: true}); pullerrors.Classify(err) != pullerrors.TLS {
		t.Errorf("untrusted certificate: %v", err)
	}
	res, err := e.Pull(ctx, ref, policy.Always, &engine.PullOptions{AllTags: true, CertDir: reg.CertDir(t)})
	if err != nil || len(res.Images) != 1 {
		t.Fatalf("with the CA: %v", err)
	}
}
