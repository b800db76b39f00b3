package engine

import (
	"maps"
	"testing"

	"go.podman.io/image/v5/types"
	storagetypes "go.podman.io/storage/types"
)

// applyPartialPulls sets only enable_partial_images, keeps storage.conf's
// other pull options, and never writes into the map it was given (it may
// be storage's cached default).
func TestApplyPartialPulls(t *testing.T) {
	conf := map[string]string{"use_hard_links": "true", pullOptionPartial: "true"}
	for _, tt := range []struct {
		want types.OptionalBool
		out  map[string]string
	}{
		{types.OptionalBoolUndefined, map[string]string{"use_hard_links": "true", pullOptionPartial: "true"}},
		{types.OptionalBoolFalse, map[string]string{"use_hard_links": "true", pullOptionPartial: "false"}},
		{types.OptionalBoolTrue, map[string]string{"use_hard_links": "true", pullOptionPartial: "true"}},
	} {
		so := storagetypes.StoreOptions{PullOptions: conf}
		applyPartialPulls(&so, tt.want)
		if !maps.Equal(so.PullOptions, tt.out) {
			t.Errorf("%v: pull options %v, want %v", tt.want, so.PullOptions, tt.out)
		}
	}
	if conf[pullOptionPartial] != "true" || len(conf) != 2 {
		t.Errorf("the given map was modified: %v", conf)
	}
	so := storagetypes.StoreOptions{}
	applyPartialPulls(&so, types.OptionalBoolTrue)
	if so.PullOptions[pullOptionPartial] != "true" {
		t.Errorf("no pull options at all, switch on: %v", so.PullOptions)
	}
}
