package platform_test

import (
	"testing"

	"github.com/pullengine/pullengine/platform"
)

// TestNormalize is the normalization table: a platform as images, lists and
// users spell it, and the one spelling Normalize gives it.
func TestNormalize(t *testing.T) {
	p := func(os, arch, variant string) platform.Platform {
		return platform.Platform{OS: os, Architecture: arch, Variant: variant}
	}
	for _, tc := range []struct {
		in, want platform.Platform
	}{
		// amd64
		{p("linux", "amd64", ""), p("linux", "amd64", "")},
		{p("linux", "x86_64", ""), p("linux", "amd64", "")},
		{p("linux", "x86-64", ""), p("linux", "amd64", "")},
		{p("linux", "amd64", "v1"), p("linux", "amd64", "")},
		{p("linux", "amd64", "1"), p("linux", "amd64", "")},
		{p("linux", "amd64", "v2"), p("linux", "amd64", "v2")},
		{p("linux", "amd64", "3"), p("linux", "amd64", "v3")},
		{p("linux", "AMD64", "V4"), p("linux", "amd64", "v4")},

		// arm64: v8 is the baseline, written without variant.
		{p("linux", "arm64", ""), p("linux", "arm64", "")},
		{p("linux", "aarch64", ""), p("linux", "arm64", "")},
		{p("linux", "arm64", "v8"), p("linux", "arm64", "")},
		{p("linux", "arm64", "8"), p("linux", "arm64", "")},
		{p("linux", "arm64", "v8.0"), p("linux", "arm64", "")},
		{p("linux", "aarch64", "v8"), p("linux", "arm64", "")},
		{p("linux", "arm64", "9"), p("linux", "arm64", "v9")},
		{p("linux", "arm64", "9.0"), p("linux", "arm64", "v9")},
		{p("linux", "arm64", "v8.2"), p("linux", "arm64", "v8.2")},

		// arm: no variant is v7, and the variant is always written.
		{p("linux", "arm", ""), p("linux", "arm", "v7")},
		{p("linux", "arm", "v7"), p("linux", "arm", "v7")},
		{p("linux", "arm", "7"), p("linux", "arm", "v7")},
		{p("linux", "arm", "v6"), p("linux", "arm", "v6")},
		{p("linux", "arm", "6"), p("linux", "arm", "v6")},
		{p("linux", "arm", "5"), p("linux", "arm", "v5")},
		{p("linux", "arm", "8"), p("linux", "arm", "v8")},
		{p("linux", "armhf", ""), p("linux", "arm", "v7")},
		{p("linux", "armel", ""), p("linux", "arm", "v6")},
		{p("linux", "ARMHF", ""), p("linux", "arm", "v7")},

		// 386
		{p("linux", "386", ""), p("linux", "386", "")},
		{p("linux", "i386", ""), p("linux", "386", "")},
		{p("linux", "i486", ""), p("linux", "386", "")},
		{p("linux", "i586", ""), p("linux", "386", "")},
		{p("linux", "i686", ""), p("linux", "386", "")},

		// Operating systems.
		{p("Linux", "amd64", ""), p("linux", "amd64", "")},
		{p("macos", "arm64", ""), p("darwin", "arm64", "")},
		{p("MacOS", "arm64", ""), p("darwin", "arm64", "")},
		{p("Windows", "amd64", ""), p("windows", "amd64", "")},

		// Unknown values are lowercased and kept.
		{p("Plan10", "Quantum", "Q2"), p("plan10", "quantum", "q2")},
		{p("linux", "riscv64", "rva23"), p("linux", "riscv64", "rva23")},
		{p("linux", "mips64le", "7"), p("linux", "mips64le", "7")},

		// Empty fields stay empty: "not set" is kept.
		{p("", "", ""), p("", "", "")},
		{p("Linux", "", ""), p("linux", "", "")},
		{p("", "aarch64", ""), p("", "arm64", "")},
		{p("", "", "V8"), p("", "", "v8")},
	} {
		got := platform.Normalize(tc.in)
		if got != tc.want {
			t.Errorf("Normalize(%#v) = %#v, want %#v", tc.in, got, tc.want)
		}
		if again := platform.Normalize(got); again != got {
			t.Errorf("Normalize is not idempotent: Normalize(%#v) = %#v", got, again)
		}
	}
}
