// The host's platform.
//
// GOOS and GOARCH come from the Go runtime; the CPU variant is detected the
// way c/image (and containerd before it) detects it, so that "the host" means
// the same here as in the copy: on Linux, arm and arm64 read the "CPU
// architecture" of the first CPU in /proc/cpuinfo; on macOS and Windows, arm64
// is v8 and arm is v7; everywhere else there is no variant. Reading
// /proc/cpuinfo is the only I/O of this package, done once per process.

package platform

import (
	"os"
	"runtime"
	"strings"
	"sync"
)

// Host returns the platform this process runs on, normalized: runtime.GOOS,
// runtime.GOARCH and, on arm, the CPU variant (linux/arm/v6 on a Raspberry
// Pi Zero). arm64 and amd64 hosts have no variant ("linux/arm64",
// "linux/amd64"): see the package documentation.
func Host() Platform {
	return host()
}

var host = sync.OnceValue(func() Platform {
	return Normalize(Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH, Variant: hostVariant()})
})

// hostVariant is the host's CPU variant as c/image detects it, before
// normalization (arm64 hosts are "v8"). Choose uses it, as c/image does,
// when no architecture is asked for.
var hostVariant = sync.OnceValue(func() string {
	return detectVariant(runtime.GOOS, runtime.GOARCH, func() ([]byte, error) {
		return os.ReadFile("/proc/cpuinfo")
	})
})

// detectVariant is c/image's CPU variant detection for goos/goarch, reading
// /proc/cpuinfo through cpuinfo. It returns "" when the variant is unknown or
// cpuinfo cannot be read.
func detectVariant(goos, goarch string, cpuinfo func() ([]byte, error)) string {
	if goos == "darwin" || goos == "windows" {
		// These run arm64 as v8 and arm as v7 only.
		switch goarch {
		case "arm64":
			return "v8"
		case "arm":
			return "v7"
		}
		return ""
	}
	if goos != "linux" || (goarch != "arm" && goarch != "arm64") {
		return ""
	}
	data, err := cpuinfo()
	if err != nil {
		return ""
	}
	return variantFromCPUInfo(string(data))
}

// variantFromCPUInfo maps the "CPU architecture" of /proc/cpuinfo to a
// variant, as c/image does.
func variantFromCPUInfo(cpuinfo string) string {
	arch, ok := cpuInfoField(cpuinfo, "cpu architecture")
	if !ok {
		return ""
	}
	switch strings.ToLower(arch) {
	case "8", "aarch64":
		return "v8"
	case "7m", "?(12)", "?(13)", "?(14)", "?(15)", "?(16)", "?(17)":
		return "v7"
	case "7":
		// ARMv6 CPUs such as the Raspberry Pi Zero's report 7 because of
		// a kernel quirk; their model name gives them away
		// (https://github.com/containerd/containerd/pull/4530).
		model, ok := cpuInfoField(cpuinfo, "model name")
		if !ok {
			return "" // as c/image: unsure between v6 and v7
		}
		if strings.HasPrefix(strings.ToLower(model), "armv6-compatible") {
			return "v6"
		}
		return "v7"
	case "6", "6tej":
		return "v6"
	case "5", "5t", "5te", "5tej":
		return "v5"
	case "4", "4t":
		return "v4"
	case "3":
		return "v3"
	}
	return ""
}

// cpuInfoField returns the value of the first line of cpuinfo whose key is
// name (case-insensitively): for SMP systems, the first CPU's.
func cpuInfoField(cpuinfo, name string) (string, bool) {
	for line := range strings.Lines(cpuinfo) {
		fields := strings.Split(line, ":")
		if len(fields) > 1 && strings.EqualFold(strings.TrimSpace(fields[0]), name) {
			return strings.TrimSpace(fields[1]), true
		}
	}
	return "", false
}
