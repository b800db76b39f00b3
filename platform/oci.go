package platform

import imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

// FromOCI returns the platform an OCI descriptor or image config declares
// (an index entry's platform, an image config's os, architecture and
// variant), as declared: not normalized, so that messages can quote it;
// normalize it, or compare it through a Matcher, before matching. Windows'
// os.version and os.features have no place in a Platform and are dropped.
func FromOCI(p imgspecv1.Platform) Platform {
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}
