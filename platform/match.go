// Matching and choosing.
//
// Two questions use platforms: "does this image serve the platform asked
// for?" (a local image, by the platform its config declares) and "which
// instance of this manifest list does a pull copy?". Both must answer as
// c/image does when it copies, or the engine would find one image and copy
// another.
//
// c/image's answer is a ranked list of acceptable platforms, built from the
// wanted OS, architecture and variant: the wanted variant, then the variants
// it ranks as compatible below it (arm: v8, v7, v6, v5; arm64: v8 only; other
// architectures have no ladder), then "no variant" — an instance that states
// none is taken to run on every CPU of its architecture. It then takes the
// instance whose platform ranks best, the first in the list on a tie (an OCI
// index breaks ties in favour of zstd instances first). It compares strings
// as they are, without normalizing.
//
// Choose and chooseInstance reproduce that choice exactly; the tests run both
// on the same lists. A Matcher answers the first question: Only accepts what
// c/image's ranked list accepts, compared after normalization; exact (for
// the tests) accepts only the same normalized platform.

package platform

import (
	"math"
	"runtime"
	"slices"
)

// A Matcher decides whether a platform, as an image declares it, serves a
// wanted platform. Matchers normalize what they are given.
type Matcher interface {
	Match(Platform) bool
}

// variantLadders lists, for the architectures whose variants are ranked,
// the variants from the most capable CPU down: a CPU runs code of its own
// variant and of every variant after it. This is c/image's table
// (internal/pkg/platform's compatibility).
var variantLadders = map[string][]string{
	"arm":   {"v8", "v7", "v6", "v5"},
	"arm64": {"v8"},
}

// Only returns a Matcher for the images that run on p, as c/image accepts
// instances for p: the same OS and architecture (after normalization) and
// p's variant, a lower variant on the arm ladder (arm/v8 also accepts v7, v6
// and v5; arm/v7 accepts v6 and v5), or no variant (amd64/v3 accepts amd64).
// It does not accept higher variants (arm/v6 rejects arm, which is arm/v7),
// nor other architectures (arm64 rejects arm, amd64 rejects 386).
//
// For normalized platforms, Only(p) accepts q exactly when c/image would
// choose an instance declaring q for p (the tests check it). Platforms as
// images spell them are normalized first, where c/image compares raw
// strings: a manifest list entry "linux/arm" without variant is one c/image
// takes for arm/v6, but Only(linux/arm/v6) rejects an image declaring
// linux/arm, because that means arm/v7.
//
// Fields of p left empty are the host's, as in c/image: an empty OS is
// Host().OS, an empty architecture is Host()'s architecture and, unless p
// has a variant, Host()'s variant. Only(Platform{}) thus matches what runs
// on the host.
func Only(p Platform) Matcher {
	if p.OS == "" {
		p.OS = Host().OS
	}
	if p.Architecture == "" {
		p.Architecture = Host().Architecture
		if p.Variant == "" {
			p.Variant = Host().Variant
		}
	}
	p = Normalize(p)
	variants := []string{p.Variant}
	if ladder := variantLadders[p.Architecture]; ladder != nil {
		if i := slices.Index(ladder, p.Variant); i >= 0 {
			variants = ladder[i:]
		}
	}
	return only{p: p, variants: variants}
}

type only struct {
	p        Platform // normalized
	variants []string // variants accepted besides ""
}

func (m only) Match(q Platform) bool {
	q = Normalize(q)
	return q.OS == m.p.OS && q.Architecture == m.p.Architecture &&
		(q.Variant == "" || slices.Contains(m.variants, q.Variant))
}

// String describes the matcher, for logs and test failures.
func (m only) String() string { return "only " + m.p.String() }

// exact returns a Matcher for the platforms equal to p once both are
// normalized: exact(linux/arm64) matches linux/aarch64 and linux/arm64/v8,
// but not linux/arm/v8. Empty fields match only empty fields.
func exact(p Platform) Matcher {
	return exactMatcher{p: Normalize(p)}
}

type exactMatcher struct{ p Platform }

func (m exactMatcher) Match(q Platform) bool { return Normalize(q) == m.p }

// String describes the matcher, for logs and test failures.
func (m exactMatcher) String() string { return "exactly " + m.p.String() }

// instance is one entry of a manifest list, as chooseInstance sees it.
type instance struct {
	// Platform is the entry's platform exactly as the list states it, not
	// normalized: c/image does not normalize it either.
	Platform Platform
	// NoPlatform is set for an OCI index entry without a "platform"
	// object. c/image chooses such an entry for any platform, but only
	// when no entry has a matching platform. (A Docker schema2 list entry
	// always has one; an empty one matches nothing.)
	NoPlatform bool
	// Zstd is set for an OCI index entry annotated
	// "io.github.containers.compression.zstd": "true". Among entries that
	// match equally well, c/image's copy prefers them (unless its
	// PreferGzipInstances option is set, which this package does not
	// model).
	Zstd bool
}

// Choose returns the index of the instance c/image copies for want from a
// manifest list whose entries declare the platforms offered, or false when
// no instance fits (a PlatformNotFound error for the caller to report,
// listing offered).
//
// want is used as given, like c/image's SystemContext OSChoice,
// ArchitectureChoice and VariantChoice: normalize it first (Parse does) and
// give c/image the same three values. As in c/image, an empty OS is the
// host's, and an empty architecture is the host's with the host's variant
// (unless want has one). offered is compared as the list states it:
// c/image does not choose an "aarch64" entry for arm64, so neither does
// Choose.
//
// A zero Platform in offered stands for an entry that states no platform,
// which is chosen only when nothing else fits (as c/image does for OCI
// indexes). (Inside the package, chooseInstance also takes a Docker
// schema2 list's empty platforms and the zstd annotations of an OCI
// index.)
func Choose(want Platform, offered []Platform) (int, bool) {
	list := make([]instance, len(offered))
	for i, p := range offered {
		list[i] = instance{Platform: p, NoPlatform: p.IsZero()}
	}
	return chooseInstance(want, list)
}

// chooseInstance is Choose for entries described in full: it returns the
// index of the entry c/image's copy chooses for want (see Choose for how
// want is read), or false when none fits. On a tie between entries whose
// platforms rank equally, an OCI index entry marked Zstd wins, then the
// first in the list.
func chooseInstance(want Platform, list []instance) (int, bool) {
	ranked := wantedPlatforms(want)
	best, bestRank, bestZstd := -1, 0, false
	for i, inst := range list {
		rank := math.MaxInt // no platform: acceptable, but last
		if !inst.NoPlatform {
			rank = slices.Index(ranked, inst.Platform)
			if rank < 0 {
				continue
			}
		}
		if best < 0 || rank < bestRank || (rank == bestRank && inst.Zstd && !bestZstd) {
			best, bestRank, bestZstd = i, rank, inst.Zstd
		}
	}
	return best, best >= 0
}

// wantedPlatforms is c/image's platform.WantedPlatforms: the platforms
// acceptable for want, best first.
func wantedPlatforms(want Platform) []Platform {
	os, arch, variant := want.OS, want.Architecture, ""
	if os == "" {
		os = runtime.GOOS
	}
	if arch == "" {
		// c/image detects the variant only when it uses the host's
		// architecture: a variant detected for one architecture means
		// nothing for another.
		arch, variant = runtime.GOARCH, hostVariant()
	}
	if want.Variant != "" {
		variant = want.Variant
	}

	var variants []string
	if variant != "" {
		// The variant asked for and those below it, then no variant.
		variants = []string{variant}
		if ladder := variantLadders[arch]; ladder != nil {
			if i := slices.Index(ladder, variant); i >= 0 {
				variants = ladder[i:]
			}
		}
		variants = append(slices.Clip(variants), "")
	} else {
		// No variant first, then every variant of the architecture.
		variants = append([]string{""}, variantLadders[arch]...)
	}

	ranked := make([]Platform, len(variants))
	for i, v := range variants {
		ranked[i] = Platform{OS: os, Architecture: arch, Variant: v}
	}
	return ranked
}
