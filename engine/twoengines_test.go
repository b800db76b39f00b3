package engine_test

import (
	"context"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/policy"
)

// Two Engines on one store in one process: closing one leaves the other
// working (containers/storage hands both the same store object).
func TestClosingOneEngineKeepsTheOther(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/a:v1", enginetest.Files{"a": "1"})
	reg.Push(t, "team/b:v1", enginetest.Files{"b": "1"})
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	first, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	second := newEngine(t, opts)
	ctx := context.Background()
	if _, err := first.Pull(ctx, reg.Host+"/team/a:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Pull(ctx, reg.Host+"/team/b:v1", policy.Missing, nil); err != nil {
		t.Fatalf("pull with the second Engine after closing the first: %v", err)
	}
	if res, err := second.Pull(ctx, reg.Host+"/team/a:v1", policy.Never, nil); err != nil || res.Outcome != engine.UsedLocal {
		t.Fatalf("the first Engine's image through the second: %+v, %v", res, err)
	}
}
