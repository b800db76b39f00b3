package registryclient

// Where containers/image pulls a name from.
//
// containers/image (docker/docker_image_src.go newImageSource) finds the
// registries.conf entry of the name (sysregistriesv2.FindRegistry; none:
// the name itself), and tries its pull sources in order
// (Registry.PullSourcesFromReference): the mirrors first, those whose
// pull-from-mirror (or the entry's mirror-by-digest-only) admits the
// reference, then the entry's location, each with the name rewritten from
// the entry's prefix to that endpoint's location. Our requests follow the
// same list, so that they reach the registries the pull reaches, and never
// a registry a location rewrite takes the name away from.

import (
	"errors"
	"fmt"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
)

// Source is one place a name is pulled from.
type Source struct {
	// Ref is the name there (rewritten to the endpoint's location), with
	// the tag or digest of the name asked.
	Ref reference.Named
	// Mirror: a mirror, not the entry's own location.
	Mirror bool
	// Insecure is the endpoint's registries.conf insecure flag.
	Insecure bool
	// NamespaceProxy is the endpoint's registries.conf namespace-proxy.
	NamespaceProxy string
}

// PullSources returns the pull sources of ref in containers/image's order:
// mirrors, then the (possibly rewritten) location, which is always last.
func PullSources(sys *types.SystemContext, ref reference.Named) ([]Source, error) {
	reg, err := sysregistriesv2.FindRegistry(sys, ref.Name())
	if err != nil {
		return nil, fmt.Errorf("loading registries configuration: %w", err)
	}
	if reg == nil { // no entry: the name itself, as containers/image does
		reg = &sysregistriesv2.Registry{Endpoint: sysregistriesv2.Endpoint{Location: ref.String()}, Prefix: ref.String()}
	}
	ps, err := reg.PullSourcesFromReference(ref)
	if err != nil {
		return nil, err
	}
	srcs := make([]Source, len(ps))
	for i, p := range ps {
		srcs[i] = Source{Ref: p.Reference, Mirror: i < len(ps)-1, Insecure: p.Endpoint.Insecure, NamespaceProxy: p.Endpoint.NamespaceProxy}
	}
	return srcs, nil
}

// ForPull returns a client for each pull source of ref, in order. A source
// whose client cannot be made (a blocked registry, unreadable
// credentials) is left out, as containers/image moves on to the next; the
// error says why when none is left.
func ForPull(sys *types.SystemContext, ref reference.Named) ([]*Client, error) {
	srcs, err := PullSources(sys, ref)
	if err != nil {
		return nil, err
	}
	var clients []*Client
	var errs []error
	for _, src := range srcs {
		c, err := NewForSource(sys, ref, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.Ref.Name(), err))
			continue
		}
		clients = append(clients, c)
	}
	if len(clients) == 0 {
		return nil, errors.Join(errs...)
	}
	return clients, nil
}
