package engine

import (
	"fmt"
	"regexp"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// input is what Pull was asked for, after the first steps of input handling
// (README.md, Behaviour: names). Exactly one of transportRef, id and name is
// set.
type input struct {
	raw string
	// transportRef is a non-registry source (oci-archive:, dir:, ...).
	transportRef types.ImageReference
	// id is a full image ID (64 hex), which names local images only.
	id string
	// name is a registry name, possibly short ("alpine"), with a tag@digest
	// reduced to the digest.
	name string
	// qualified: the name was given with docker:// and is fully qualified,
	// so short-name resolution does not apply.
	qualified bool
	// tagAdded: name's tag is the "latest" the docker transport adds to a
	// docker:// name given without one, not the caller's (AllTags trims it,
	// as libimage does with reference.TrimNamed).
	tagAdded bool
}

var fullID = regexp.MustCompile(`^[a-f0-9]{64}$`)

// parseInput applies the input rules in their order: transport prefix,
// image IDs, name:tag@digest, and the registry name's syntax.
func parseInput(name string) (input, error) {
	in := input{raw: name}
	ref, parseErr := alltransports.ParseImageName(name)
	if parseErr == nil {
		if ref.Transport().Name() != docker.Transport.Name() {
			in.transportRef = ref
			return in, nil
		}
		in.name, in.qualified = ref.DockerReference().String(), true
		in.tagAdded = nameOnly(strings.TrimPrefix(name, "docker://"))
		return in, nil
	}
	// A known transport other than docker keeps its own parse error; the
	// docker transport, and "unknown transports" like "localhost:5000/x"
	// or "docker:latest", are read as registry names below.
	if t := alltransports.TransportFromImageName(name); t != nil && t.Name() != docker.Transport.Name() {
		return in, invalidReference(name, parseErr)
	}

	if id, ok := imageID(name); ok {
		in.id = id
		return in, nil
	}
	if hex, ok := strings.CutPrefix(name, "sha256:"); ok {
		return in, invalidReference(name, fmt.Errorf("%q is not a 64-character hexadecimal image ID", hex))
	}

	s, explicit := strings.CutPrefix(name, "docker://")
	normalized, err := dropTagBesideDigest(s)
	if err != nil {
		return in, invalidReference(name, err)
	}
	if explicit {
		named, err := reference.ParseNormalizedNamed(normalized)
		if err != nil {
			return in, invalidReference(name, err)
		}
		in.name, in.qualified = reference.TagNameOnly(named).String(), true
		return in, nil
	}
	if _, err := docker.ParseReference("//" + normalized); err != nil {
		return in, invalidReference(name, err)
	}
	in.name = normalized
	return in, nil
}

// refuseCredentials refuses a name that carries credentials
// ("user:secret@host/app", "docker://user:secret@...", "https://...@host/v2/..."):
// a name is no place for them, and every parser below would quote the name
// in its error. The error is built from the redacted name only, so no error
// of the pull, however deep in its chain, holds the secret.
//
// Names of other transports are left to their parsers: their syntax has
// colons and '@' of its own ("docker-archive:x.tar:@1"), which only look
// like userinfo.
func refuseCredentials(name string) error {
	if t := alltransports.TransportFromImageName(name); t != nil && t.Name() != docker.Transport.Name() {
		return nil
	}
	shown := safetext.Redact(name)
	if shown == name {
		return nil
	}
	return pullerrors.Errorf(pullerrors.InvalidReference,
		"parsing %q: the name carries credentials (a user and password before '@'); give them as pull options (Username and Password, RegistryCredentials or an auth file)", shown)
}

// qualifiedName is a qualified input's name, parsed, with ":latest" when it
// has neither tag nor digest: the one name to look up and to pull.
func (in input) qualifiedName() (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(in.name)
	if err != nil {
		return nil, invalidReference(in.raw, err)
	}
	return reference.TagNameOnly(named), nil
}

// nameOnly reports whether s is a repository name without tag or digest.
func nameOnly(s string) bool {
	named, err := reference.ParseNormalizedNamed(s)
	return err == nil && reference.IsNameOnly(named)
}

// imageID recognizes "sha256:<64 hex>" and a bare 64-hex ID.
func imageID(name string) (string, bool) {
	hex := strings.TrimPrefix(name, "sha256:")
	return hex, fullID.MatchString(hex)
}

// dropTagBesideDigest turns name:tag@digest into name@digest, as Docker
// does: the digest is the truth, the tag only a comment.
func dropTagBesideDigest(s string) (string, error) {
	ref, err := reference.Parse(s)
	if err != nil {
		return "", err
	}
	named, isNamed := ref.(reference.Named)
	if !isNamed {
		return "", fmt.Errorf("%q has no repository name", s)
	}
	_, isTagged := ref.(reference.Tagged)
	digested, isDigested := ref.(reference.Digested)
	if !isTagged || !isDigested {
		return s, nil
	}
	out, err := reference.WithDigest(reference.TrimNamed(named), digested.Digest())
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

func invalidReference(name string, err error) error {
	return fmt.Errorf("parsing %q: %w", name, pullerrors.Wrap(pullerrors.InvalidReference, err))
}
