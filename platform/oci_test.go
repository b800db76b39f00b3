package platform_test

import (
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pullengine/pullengine/platform"
)

// FromOCI keeps the declared words (no normalization) and drops what a
// Platform has no place for.
func TestFromOCI(t *testing.T) {
	got := platform.FromOCI(imgspecv1.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8", OSVersion: "10.0", OSFeatures: []string{"win32k"}})
	if want := (platform.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8"}); got != want {
		t.Errorf("FromOCI = %+v, want %+v", got, want)
	}
	if got := platform.FromOCI(imgspecv1.Platform{}); !got.IsZero() {
		t.Errorf("platform.FromOCI(zero) = %+v, want the zero Platform", got)
	}
}
