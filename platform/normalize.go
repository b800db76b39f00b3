// Normalization: one spelling per platform.
//
// Images, manifest lists and users spell the same platform in several ways:
// the names of uname -m (x86_64, aarch64, i686), of Debian (armhf, armel),
// with or without a variant that carries no information (arm64/v8,
// amd64/v1), in any case. Normalize maps them to Go's GOOS/GOARCH names and
// to one variant per CPU generation, following containerd's platforms
// package, so that platforms compare with ==. Values it does not know are
// lowercased and otherwise kept, so that platforms newer than this package
// still work; empty fields stay empty, since the engine reads them as "not
// set".

package platform

import "strings"

// Normalize returns p in the one spelling this package compares and writes:
// Go's names for OS and architecture, and the variant only where it tells
// CPU generations apart (arm/v7, amd64/v3; never arm64/v8 or amd64/v1):
//
//	OS         macos → darwin; every OS lowercased
//	amd64      x86_64, x86-64 → amd64; variant v1 (the baseline) → none
//	arm64      aarch64 → arm64; variant v8 (the baseline) → none; 9 → v9
//	arm        no variant → v7; armhf → arm/v7; armel → arm/v6
//	386        i386, i486, i586, i686 → 386, dropping any variant
//	variants   on amd64, arm and arm64 a bare number gets its "v" and loses
//	           a ".0": arm/7 → arm/v7, arm64/8.0 → arm64, arm64/8.2 → arm64/v8.2
//
// Other values are lowercased and otherwise kept. Normalize is idempotent,
// and keeps empty fields empty (an architecture "arm" with no variant is
// the one exception: it is arm/v7).
func Normalize(p Platform) Platform {
	p.OS = normalizeOS(p.OS)
	p.Architecture, p.Variant = normalizeArch(p.Architecture, p.Variant)
	return p
}

// normalizeOS lowercases os and maps aliases to Go's GOOS names.
func normalizeOS(os string) string {
	os = strings.ToLower(os)
	if os == "macos" {
		return "darwin"
	}
	return os
}

// normalizeArch lowercases arch and variant and maps them to Go's GOARCH
// names and to the one variant per CPU generation.
func normalizeArch(arch, variant string) (string, string) {
	arch, variant = strings.ToLower(arch), strings.ToLower(variant)
	switch arch {
	case "i386", "i486", "i586", "i686":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		variant = versionVariant(variant)
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		variant = versionVariant(variant)
		if variant == "v8" {
			variant = ""
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		variant = versionVariant(variant)
		if variant == "" {
			variant = "v7"
		}
		return "arm", variant
	}
	return arch, variant
}

// versionVariant writes a variant that is a CPU version in the "vN" form:
// "8" and "v8.0" become "v8", "8.2" becomes "v8.2". Other values, such as
// "" or "v7m", are returned unchanged.
func versionVariant(v string) string {
	n := strings.TrimPrefix(v, "v")
	if !isVersion(n) {
		return v
	}
	return "v" + strings.TrimSuffix(n, ".0")
}

// isVersion reports whether s is a number N or N.M.
func isVersion(s string) bool {
	major, minor, dotted := strings.Cut(s, ".")
	return isDigits(major) && (!dotted || isDigits(minor))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isKnownOS reports whether os (normalized) is an operating system Go knows,
// from go/build's syslist (as containerd's list).
func isKnownOS(os string) bool {
	switch os {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos":
		return true
	}
	return false
}

// isKnownArch reports whether arch (normalized) is an architecture Go knows,
// from go/build's syslist (as containerd's list).
func isKnownArch(arch string) bool {
	switch arch {
	case "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm":
		return true
	}
	return false
}
