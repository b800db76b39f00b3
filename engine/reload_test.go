package engine_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// An Engine follows edits of registries.conf and policy.json without a
// restart, and a policy.json edited into garbage fails pulls rather than
// falling back to the old policy.
func TestConfigurationIsReloadedOnChange(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	img := reg.Push(t, "real/name:latest", enginetest.Files{"a": "1"})
	opts := enginetest.NewEngineOptions(t, enginetest.WithInsecureRegistry(reg.Host))
	e := newEngine(t, opts)
	ctx := context.Background()
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := e.Pull(ctx, "nick", policy.Missing, nil); err == nil {
		t.Fatal("pulled a short name no configuration resolves")
	}
	conf, err := os.ReadFile(opts.RegistriesConfPath)
	if err != nil {
		t.Fatal(err)
	}
	write(opts.RegistriesConfPath, string(conf)+fmt.Sprintf("\n[aliases]\n\"nick\" = %q\n", reg.Host+"/real/name"))
	res, err := e.Pull(ctx, "nick", policy.Missing, nil)
	if err != nil || res.Images[0].ID != enginetest.ID(t, img) {
		t.Fatalf("after adding an alias: %+v, %v", res, err)
	}

	write(opts.SignaturePolicyPath, `{"default":[{"type":"reject"}]}`)
	if _, err := e.Pull(ctx, "nick", policy.Always, nil); pullerrors.Classify(err) != pullerrors.Denied {
		t.Errorf("after policy.json rejects everything: %v; want denied", err)
	}
	write(opts.SignaturePolicyPath, `{"default":[`)
	if _, err := e.Pull(ctx, "nick", policy.Always, nil); err == nil {
		t.Error("a broken policy.json let a pull through")
	}
	if _, err := e.Pull(ctx, "nick", policy.Always, nil); err == nil {
		t.Error("a broken policy.json let the second pull through")
	}
	write(opts.SignaturePolicyPath, `{"default":[{"type":"insecureAcceptAnything"}]}`)
	if _, err := e.Pull(ctx, "nick", policy.Always, nil); err != nil {
		t.Errorf("after policy.json is fixed: %v", err)
	}
}
