package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
)

const canary = "canary-Pa55word-7f3a"

func TestCredentials(t *testing.T) {
	for _, auth := range []struct {
		name string
		opt  enginetest.RegistryOption
	}{
		{"basic", enginetest.WithBasicAuth("alice", canary)},
		{"token", enginetest.WithTokenAuth("alice", canary)},
	} {
		t.Run(auth.name, func(t *testing.T) {
			reg := enginetest.NewRegistry(t, auth.opt)
			ref := reg.Host + "/private/app:v1"
			reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
			ctx := context.Background()

			cases := []struct {
				name     string
				opts     *engine.PullOptions
				wantKind pullerrors.Kind // Internal: success
			}{
				{"right", &engine.PullOptions{Username: "alice", Password: canary}, pullerrors.Internal},
				{"wrong", &engine.PullOptions{Username: "alice", Password: canary + "-wrong"}, pullerrors.Unauthorized},
				{"missing", nil, pullerrors.Unauthorized},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
					res, err := e.Pull(ctx, ref, policy.Always, c.opts)
					if c.wantKind == pullerrors.Internal {
						if err != nil || res.Outcome != engine.Pulled {
							t.Fatalf("Pull = %v, %v; want pulled", res, err)
						}
						return
					}
					if k := pullerrors.Classify(err); k != c.wantKind {
						t.Errorf("kind %v, want %v: %v", k, c.wantKind, err)
					}
					for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
						if strings.Contains(form, canary) {
							t.Errorf("the password leaked into the error: %s", form)
						}
					}
				})
			}
		})
	}
}

// Credentials from the auth file are used for the pull and for the newer
// digest check.
func TestCredentialsFromAuthFile(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth("alice", canary))
	ref := reg.Host + "/private/app:v1"
	reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte("alice:"+canary)))
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithAuthJSON(auth))
	ctx := context.Background()

	if _, err := e.Pull(ctx, ref, policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	reg.Requests.Reset()
	res, err := e.Pull(ctx, ref, policy.Newer, nil)
	if err != nil || res.Outcome != engine.UpToDate {
		t.Fatalf("newer = %+v, %v; want up-to-date (the digest check authenticated)", res, err)
	}
	if n := reg.Requests.Count(enginetest.ManifestHead); n != 1 {
		t.Errorf("%d manifest HEADs, want 1: %v", n, reg.Requests.Log())
	}
}

// The canary password never reaches progress events or the JSON lines a
// server streams, on success or failure.
func TestCredentialsNeverInProgress(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTokenAuth("alice", canary))
	reg.Push(t, "private/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	for _, password := range []string{canary, canary + "-wrong"} {
		var lines bytes.Buffer
		rec := &recorder{}
		sink := progress.SinkFunc(func(ev progress.Event) { rec.Emit(ev); progress.NewJSONLines(&lines, nil).Emit(ev) })
		_, _ = e.Pull(context.Background(), reg.Host+"/private/app:v1", policy.Always,
			&engine.PullOptions{Username: "alice", Password: password, Progress: sink})
		for _, ev := range rec.events {
			if strings.Contains(fmt.Sprintf("%+v %v", ev, ev.Err), canary) {
				t.Errorf("event %v carries the password", ev.Kind)
			}
		}
		if strings.Contains(lines.String(), canary) {
			t.Errorf("the JSON lines carry the password: %s", lines.String())
		}
	}
}
