package platform_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
)

// TestParse is the specification of Parse: what users type, the platform it
// means, and how that platform is written back.
func TestParse(t *testing.T) {
	host := platform.Host()
	hostArch := func(os string) platform.Platform {
		return platform.Platform{OS: os, Architecture: host.Architecture, Variant: host.Variant}
	}
	onHostOS := func(arch, variant string) platform.Platform {
		return platform.Platform{OS: host.OS, Architecture: arch, Variant: variant}
	}
	for _, tc := range []struct {
		in     string
		want   platform.Platform
		String string
	}{
		// os/arch and os/arch/variant.
		{"linux/amd64", platform.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{"linux/arm64", platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{"linux/arm64/v8", platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{"linux/arm64/8", platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{"linux/arm64/v9", platform.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}, "linux/arm64/v9"},
		{"linux/arm", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"linux/arm/v7", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"linux/arm/7", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"linux/arm/v6", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, "linux/arm/v6"},
		{"linux/arm/v5", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v5"}, "linux/arm/v5"},
		{"linux/amd64/v1", platform.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{"linux/amd64/v3", platform.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, "linux/amd64/v3"},
		{"linux/s390x", platform.Platform{OS: "linux", Architecture: "s390x"}, "linux/s390x"},
		{"linux/ppc64le", platform.Platform{OS: "linux", Architecture: "ppc64le"}, "linux/ppc64le"},
		{"linux/riscv64", platform.Platform{OS: "linux", Architecture: "riscv64"}, "linux/riscv64"},
		{"linux/386", platform.Platform{OS: "linux", Architecture: "386"}, "linux/386"},
		{"windows/amd64", platform.Platform{OS: "windows", Architecture: "amd64"}, "windows/amd64"},

		// Other spellings of the same platforms.
		{"linux/x86_64", platform.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{"linux/x86-64", platform.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{"linux/aarch64", platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{"linux/armhf", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"linux/armel", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, "linux/arm/v6"},
		{"linux/i386", platform.Platform{OS: "linux", Architecture: "386"}, "linux/386"},
		{"linux/i686", platform.Platform{OS: "linux", Architecture: "386"}, "linux/386"},
		{"macos/arm64", platform.Platform{OS: "darwin", Architecture: "arm64"}, "darwin/arm64"},

		// Any case.
		{"Linux/ARM64", platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
		{"LINUX/ARM/V7", platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"Linux/AMD64/V3", platform.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, "linux/amd64/v3"},

		// Platforms this package does not know are kept, lowercased.
		{"plan10/quantum", platform.Platform{OS: "plan10", Architecture: "quantum"}, "plan10/quantum"},
		{"linux/mips64le/R6", platform.Platform{OS: "linux", Architecture: "mips64le", Variant: "r6"}, "linux/mips64le/r6"},

		// One word: an operating system (on the host's architecture)...
		{"linux", hostArch("linux"), hostArch("linux").String()},
		{"Windows", hostArch("windows"), hostArch("windows").String()},
		{"macos", hostArch("darwin"), hostArch("darwin").String()},
		// ... or an architecture (on the host's operating system).
		{"arm64", onHostOS("arm64", ""), onHostOS("arm64", "").String()},
		{"aarch64", onHostOS("arm64", ""), onHostOS("arm64", "").String()},
		{"amd64", onHostOS("amd64", ""), onHostOS("amd64", "").String()},
		{"x86_64", onHostOS("amd64", ""), onHostOS("amd64", "").String()},
		{"arm", onHostOS("arm", "v7"), onHostOS("arm", "v7").String()},
		{"armhf", onHostOS("arm", "v7"), onHostOS("arm", "v7").String()},
		{"armel", onHostOS("arm", "v6"), onHostOS("arm", "v6").String()},
		{"S390X", onHostOS("s390x", ""), onHostOS("s390x", "").String()},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := platform.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.String {
				t.Errorf("Parse(%q).String() = %q, want %q", tc.in, s, tc.String)
			}
			if again := platform.MustParse(got.String()); again != got {
				t.Errorf("Parse(%q) = %v, but Parse(%q) = %v", tc.in, got, got.String(), again)
			}
		})
	}
}

// TestParseErrors: malformed specifiers are InvalidArgument errors that say
// what is wrong and which forms are accepted.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		reason string // a part of the message
	}{
		{"", "it is empty"},
		{"linux/", "the architecture is empty"},
		{"/arm64", "the operating system is empty"},
		{"/", "the operating system is empty"},
		{"linux//v7", "the architecture is empty"},
		{"linux/arm/", "the variant is empty"},
		{"a/b/c/d", "more than three components"},
		{"a/b/c/d/e", "more than three components"},
		{"*", "wildcards are not supported"},
		{"linux/*", "wildcards are not supported"},
		{"linux/arm 64", `"arm 64" may hold only letters, digits`},
		{" linux/arm64", `" linux" may hold only letters, digits`},
		{"linux/../x", `".." may hold only letters, digits`},
		{"linux/-x", `"-x" may hold only letters, digits`},
		{"linux/ärm", `"ärm" may hold only letters, digits`},
		{"windows(10.0.17763)/amd64", "may hold only letters, digits"},
		{"bogus", `"bogus" is neither a known operating system nor a known architecture`},
		{"v7", "is neither a known operating system nor a known architecture"},
		{"arm/v7", `"arm" is an architecture, not an operating system (did you mean "linux/arm/v7"?)`},
		{"aarch64/v8", `"aarch64" is an architecture, not an operating system (did you mean "linux/aarch64/v8"?)`},
		{"amd64/linux", `"amd64" is an architecture, not an operating system, which comes first`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := platform.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.in, p)
			}
			if !errors.Is(err, pullerrors.ErrInvalidArgument) {
				t.Errorf("Parse(%q) error %q does not wrap ErrInvalidArgument", tc.in, err)
			}
			msg := err.Error()
			for _, part := range []string{fmt.Sprintf("%q", tc.in), tc.reason, "os/arch[/variant]", "linux/arm/v7"} {
				if !strings.Contains(msg, part) {
					t.Errorf("Parse(%q) error %q does not say %q", tc.in, msg, part)
				}
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), `"linux/"`) {
			t.Errorf("MustParse(%q) recovered %v, want a panic naming the input", "linux/", r)
		}
	}()
	platform.MustParse("linux/")
}

func TestStringAndIsZero(t *testing.T) {
	for _, tc := range []struct {
		p      platform.Platform
		String string
		zero   bool
	}{
		{platform.Platform{}, "", true},
		{platform.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64", false},
		{platform.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7", false},
		// String does not normalize, and leaves out empty fields.
		{platform.Platform{OS: "Linux", Architecture: "aarch64"}, "Linux/aarch64", false},
		{platform.Platform{OS: "linux"}, "linux", false},
		{platform.Platform{Architecture: "arm64"}, "arm64", false},
	} {
		if s := tc.p.String(); s != tc.String {
			t.Errorf("%#v.String() = %q, want %q", tc.p, s, tc.String)
		}
		if z := tc.p.IsZero(); z != tc.zero {
			t.Errorf("%#v.IsZero() = %v, want %v", tc.p, z, tc.zero)
		}
	}
}

func ExampleParse() {
	for _, s := range []string{"linux/arm64", "linux/aarch64/v8", "Linux/ARM", "linux/armel", "linux/amd64/v3", "linux/"} {
		p, err := platform.Parse(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-16s → %-15s %#v\n", s, p, p)
	}
	// Output:
	// linux/arm64      → linux/arm64     platform.Platform{OS:"linux", Architecture:"arm64", Variant:""}
	// linux/aarch64/v8 → linux/arm64     platform.Platform{OS:"linux", Architecture:"arm64", Variant:""}
	// Linux/ARM        → linux/arm/v7    platform.Platform{OS:"linux", Architecture:"arm", Variant:"v7"}
	// linux/armel      → linux/arm/v6    platform.Platform{OS:"linux", Architecture:"arm", Variant:"v6"}
	// linux/amd64/v3   → linux/amd64/v3  platform.Platform{OS:"linux", Architecture:"amd64", Variant:"v3"}
	// invalid platform "linux/": the architecture is empty; a platform is os/arch[/variant] (linux/arm64, linux/arm/v7), an architecture (arm64) or an operating system (linux)
}

// FuzzParse: Parse never panics; it fails with an InvalidArgument error, or
// returns a normalized platform that String writes in a form Parse reads
// back to the same platform.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "linux", "arm64", "linux/arm64", "linux/arm64/v8", "linux/arm", "linux/amd64/v3",
		"linux/armhf", "LINUX/X86_64", "macos/arm64", "linux/", "/arm64", "a/b/c/d/e", "*",
		"arm/v7", "linux/arm/8.0", "linux/arm64/9.0", "linux/amd64/1", "windows", "i686",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := platform.Parse(s)
		if err != nil {
			if !errors.Is(err, pullerrors.ErrInvalidArgument) {
				t.Fatalf("Parse(%q) error %q does not wrap ErrInvalidArgument", s, err)
			}
			return
		}
		if n := platform.Normalize(p); n != p {
			t.Fatalf("Parse(%q) = %#v, not normalized (%#v)", s, p, n)
		}
		again, err := platform.Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q): %v", s, p, p.String(), err)
		}
		if again != p {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", s, p, p.String(), again)
		}
	})
}
