package engine

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// normalizeName turns a name read from an archive or layout into the name it
// is stored under, as Podman does: a name without a registry gets
// "localhost/" (busybox → localhost/busybox:latest, never docker.io), a
// docker.io name gets its "library/", a tag beside a digest is dropped, and
// a bare name gets ":latest".
func normalizeName(name string) (reference.Named, error) {
	ref, err := reference.Parse(name)
	if err != nil {
		return nil, fmt.Errorf("normalizing name %q: %w", name, err)
	}
	named, ok := ref.(reference.Named)
	if !ok {
		return nil, fmt.Errorf("normalizing name %q: not a named reference", name)
	}
	if domain := reference.Domain(named); domain != "localhost" && !strings.ContainsAny(domain, ".:") {
		name = "localhost/" + name
	}
	named, err = reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, fmt.Errorf("normalizing name %q: %w", name, err)
	}
	if digested, ok := named.(reference.Digested); ok {
		return reference.WithDigest(reference.TrimNamed(named), digested.Digest())
	}
	return reference.TagNameOnly(named), nil
}
