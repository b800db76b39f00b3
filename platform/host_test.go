package platform

import (
	"errors"
	"runtime"
	"testing"
)

func TestHost(t *testing.T) {
	h := Host()
	if h.OS != runtime.GOOS {
		t.Errorf("Host().OS = %q, want runtime.GOOS %q", h.OS, runtime.GOOS)
	}
	if want, _ := normalizeArch(runtime.GOARCH, ""); h.Architecture != want {
		t.Errorf("Host().Architecture = %q, want %q", h.Architecture, want)
	}
	if n := Normalize(h); n != h {
		t.Errorf("Host() = %#v is not normalized (%#v)", h, n)
	}
	switch runtime.GOARCH {
	case "amd64", "arm64":
		if h.Variant != "" {
			t.Errorf("Host().Variant = %q on %s, want none", h.Variant, runtime.GOARCH)
		}
	}
	if Host() != h {
		t.Errorf("Host() changed between calls")
	}
}

const (
	cpuinfoArm64 = `processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x3
CPU part	: 0xd0c
CPU revision	: 1

processor	: 1
CPU architecture: 8
`
	cpuinfoPi3Arm32 = `processor	: 0
model name	: ARMv7 Processor rev 4 (v7l)
BogoMIPS	: 38.40
Features	: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer	: 0x41
CPU architecture: 7
`
	cpuinfoPiZero = `processor	: 0
model name	: ARMv6-compatible processor rev 7 (v6l)
BogoMIPS	: 697.95
Features	: half thumb fastmult vfp edsp java tls
CPU implementer	: 0x41
CPU architecture: 7
`
	cpuinfoArmv5 = `Processor	: Feroceon 88FR131 rev 1 (v5l)
BogoMIPS	: 1191.11
CPU architecture: 5TE
`
	cpuinfoNoModel = `processor	: 0
CPU architecture: 7
`
	cpuinfoAmd64 = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU
`
)

// TestDetectVariant: the CPU variant is detected as c/image detects it.
func TestDetectVariant(t *testing.T) {
	read := func(s string) func() ([]byte, error) {
		return func() ([]byte, error) { return []byte(s), nil }
	}
	unreadable := func() ([]byte, error) { return nil, errors.New("no /proc") }
	for _, tc := range []struct {
		name, goos, goarch string
		cpuinfo            func() ([]byte, error)
		want               string // before normalization
		host               string // Host().String() with this variant
	}{
		{"linux arm64", "linux", "arm64", read(cpuinfoArm64), "v8", "linux/arm64"},
		{"linux arm on a 64-bit CPU", "linux", "arm", read(cpuinfoArm64), "v8", "linux/arm/v8"},
		{"linux arm v7", "linux", "arm", read(cpuinfoPi3Arm32), "v7", "linux/arm/v7"},
		{"Raspberry Pi Zero reports 7 but is v6", "linux", "arm", read(cpuinfoPiZero), "v6", "linux/arm/v6"},
		{"linux arm v5", "linux", "arm", read(cpuinfoArmv5), "v5", "linux/arm/v5"},
		{"7 without a model name is unsure", "linux", "arm", read(cpuinfoNoModel), "", "linux/arm/v7"},
		{"no CPU architecture line", "linux", "arm64", read(cpuinfoAmd64), "", "linux/arm64"},
		{"cpuinfo unreadable", "linux", "arm64", unreadable, "", "linux/arm64"},
		{"linux amd64 has no variant", "linux", "amd64", read(cpuinfoAmd64), "", "linux/amd64"},
		{"darwin arm64", "darwin", "arm64", unreadable, "v8", "darwin/arm64"},
		{"windows arm", "windows", "arm", unreadable, "v7", "windows/arm/v7"},
		{"windows amd64", "windows", "amd64", unreadable, "", "windows/amd64"},
		{"freebsd arm64 does not read cpuinfo", "freebsd", "arm64", read(cpuinfoArm64), "", "freebsd/arm64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := detectVariant(tc.goos, tc.goarch, tc.cpuinfo)
			if got != tc.want {
				t.Errorf("detectVariant(%q, %q) = %q, want %q", tc.goos, tc.goarch, got, tc.want)
			}
			if h := Normalize(Platform{OS: tc.goos, Architecture: tc.goarch, Variant: got}).String(); h != tc.host {
				t.Errorf("host platform = %q, want %q", h, tc.host)
			}
		})
	}
}
