// Package platform names the platform an image is built for, and chooses the
// instance of a manifest list that a pull copies.
//
// # The model
//
// A platform is the triple of the OCI image spec: an operating system and an
// architecture, spelled as Go's GOOS and GOARCH (linux, amd64, arm64), and an
// optional variant that names the CPU generation within the architecture
// (arm/v6, arm/v7, amd64/v3). Images declare their platform in their config;
// manifest lists (OCI indexes, Docker schema2 lists) declare one per instance.
//
// Users write a platform as a specifier, one of:
//
//	os                 linux              the host's architecture
//	arch               arm64              the host's operating system
//	os/arch            linux/arm64
//	os/arch/variant    linux/arm/v7
//
// Parse reads a specifier (case-insensitively), Normalize turns the many
// spellings in the wild (aarch64, x86_64, armhf, ...) into one, and String
// writes a platform back as a specifier. The empty specifier and the zero
// Platform mean "not set": the engine then uses its configured platform, else
// the host's.
//
// # One spelling per platform
//
// Normalization follows containerd's platforms package (see Normalize for
// the table). Two rules are about variants, and explain why "linux/arm64" has
// no variant while "linux/arm/v7" has one:
//
//   - Every arm64 CPU implements ARMv8, so "arm64/v8" says nothing more than
//     "arm64"; images declare it both ways. Normalization drops the v8 so that
//     both compare equal, and arm64 is written without a variant. The same
//     holds for amd64/v1, the baseline of amd64.
//   - 32-bit arm is the opposite: v5, v6 and v7 CPUs run different code, and
//     images without a variant are in practice armhf, that is v7. So "arm"
//     alone means arm/v7, and the variant is always written.
//
// Empty fields stay empty: Normalize never invents an OS or an architecture.
//
// # Matching and choosing
//
// A Matcher (match.go) decides whether an image's declared platform serves a
// wanted one; Only accepts the lower variants a CPU also runs. Choose picks an instance from a manifest list, and picks the instance
// c/image (go.podman.io/image/v5) picks when it copies: the tests compare the
// two, so that the engine has one notion of "the image for this platform".
package platform

import (
	"fmt"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
)

// Platform is an OCI platform: operating system, architecture and CPU
// variant, as image configs and manifest lists declare them. A field left
// empty is "not set"; the zero Platform means no platform was asked for.
//
// Values returned by Parse, Normalize and Host are normalized; compare
// platforms from elsewhere (an image config, a manifest list) only after
// normalizing them, or through a Matcher.
//
// In JSON a Platform is spelled as in the OCI image spec and every registry
// tool: {"os":"linux","architecture":"arm","variant":"v7"}, the variant left
// out when empty.
type Platform struct {
	OS           string `json:"os"`                // GOOS value: linux, windows, darwin, ...
	Architecture string `json:"architecture"`      // GOARCH value: amd64, arm64, arm, 386, s390x, ...
	Variant      string `json:"variant,omitempty"` // CPU variant: v7 for arm/v7, v3 for amd64/v3; often empty
}

// acceptedForms is quoted by every Parse error.
const acceptedForms = "a platform is os/arch[/variant] (linux/arm64, linux/arm/v7), an architecture (arm64) or an operating system (linux)"

// Parse reads a platform specifier: "os/arch/variant", "os/arch", a single
// architecture or a single operating system, in any case. The result is
// normalized, so Parse("linux/aarch64/v8") is linux/arm64 and Parse("armhf")
// is arm/v7 on the host's OS.
//
// A single word is an operating system if it names one Go knows ("linux",
// "windows", "macos"), completed with the host's architecture and variant;
// otherwise it must name an architecture Go knows, completed with the host's
// operating system (as containerd does). With two or three components any
// value is accepted, so platforms this package does not know can still be
// asked for, but the first component must not be an architecture:
// "arm/v7" is rejected with a hint to write "linux/arm/v7".
//
// An empty string is an error, as in containerd's platforms: where a
// platform is asked for, "" is a mistake. "Not set" is the zero Platform,
// which callers keep without calling Parse. Malformed input (the empty
// string, an empty component as in "linux/" or "/arm64", more than three
// components, "*", characters other than letters, digits, '.', '_' and '-',
// an unknown single word) is an error that wraps
// pullerrors.ErrInvalidArgument and says which forms are accepted.
func Parse(s string) (Platform, error) {
	if s == "" {
		return Platform{}, parseErrorf(s, "it is empty (leave the platform unset, the zero Platform, to mean none)")
	}
	parts := strings.SplitN(s, "/", 4)
	if len(parts) > 3 {
		return Platform{}, parseErrorf(s, "it has more than three components")
	}
	for i, part := range parts {
		if err := checkComponent(s, len(parts), i, part); err != nil {
			return Platform{}, err
		}
		parts[i] = strings.ToLower(part)
	}

	if len(parts) == 1 {
		return parseWord(s, parts[0])
	}
	if arch, _ := normalizeArch(parts[0], ""); isKnownArch(arch) && !isKnownOS(normalizeOS(parts[0])) {
		if len(parts) == 2 && !isKnownOS(normalizeOS(parts[1])) {
			return Platform{}, parseErrorf(s, "%q is an architecture, not an operating system (did you mean %q?)", parts[0], "linux/"+s)
		}
		return Platform{}, parseErrorf(s, "%q is an architecture, not an operating system, which comes first", parts[0])
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return Normalize(p), nil
}

// parseWord reads a one-word specifier: an operating system, else an
// architecture.
func parseWord(s, word string) (Platform, error) {
	host := Host()
	if os := normalizeOS(word); isKnownOS(os) {
		return Platform{OS: os, Architecture: host.Architecture, Variant: host.Variant}, nil
	}
	p := Normalize(Platform{Architecture: word})
	if !isKnownArch(p.Architecture) {
		return Platform{}, parseErrorf(s, "%q is neither a known operating system nor a known architecture", word)
	}
	p.OS = host.OS
	return p, nil
}

// componentNames names the components of a specifier by their count and
// position, for error messages.
var componentNames = [4][]string{
	2: {"operating system", "architecture"},
	3: {"operating system", "architecture", "variant"},
}

// checkComponent reports a malformed component i of n in specifier s: empty,
// a wildcard, or a character outside [A-Za-z0-9._-] (the first character
// must be a letter or a digit).
func checkComponent(s string, n, i int, part string) error {
	if part == "" {
		// Only reachable with n >= 2: Parse refuses s == "" first.
		return parseErrorf(s, "the %s is empty", componentNames[n][i])
	}
	if strings.Contains(part, "*") {
		return parseErrorf(s, "wildcards are not supported")
	}
	for j := 0; j < len(part); j++ {
		c := part[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case j > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return parseErrorf(s, "%q may hold only letters, digits, '.', '_' and '-', starting with a letter or a digit", part)
		}
	}
	return nil
}

// parseError is a Parse error: the input, what is wrong with it, and the
// forms Parse accepts. It is an InvalidArgument error.
type parseError struct {
	input  string
	reason string
}

func parseErrorf(input, format string, args ...any) error {
	return pullerrors.Wrap(pullerrors.InvalidArgument, &parseError{input: input, reason: fmt.Sprintf(format, args...)})
}

func (e *parseError) Error() string {
	return fmt.Sprintf("invalid platform %q: %s; %s", e.input, e.reason, acceptedForms)
}

// MustParse is Parse for values known to be valid, such as constants in
// tests and package-level variables; it panics if s does not parse.
func MustParse(s string) Platform {
	p, err := Parse(s)
	if err != nil {
		panic("platform.MustParse: " + err.Error())
	}
	return p
}

// String writes p as a specifier, "os/arch" or "os/arch/variant"
// ("linux/arm64", "linux/arm/v7"), leaving out empty fields; the zero
// Platform is "". String does not normalize. For every Platform that Parse
// returns, Parse(p.String()) returns p again.
func (p Platform) String() string {
	parts := make([]string, 0, 3)
	for _, f := range [...]string{p.OS, p.Architecture, p.Variant} {
		if f != "" {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, "/")
}

// IsZero reports whether p is the zero Platform, "not set".
func (p Platform) IsZero() bool {
	return p == Platform{}
}
