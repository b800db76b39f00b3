package engine

// Listing a repository's tags, bounded.
//
// containers/image's docker.GetRepositoryTags follows the registry's Link
// headers for as long as the registry sends them and decodes each page
// whole, so a hostile registry can make it loop forever (an endless Link
// chain) or exhaust memory (one huge page). listTags does the same job with
// limits: at most maxTagPages pages, maxTagListBytes bytes of page bodies in
// all, and PullOptions.MaxTags tags; past any of them it stops with an
// Unsupported error that names the limit. It talks to the registry through
// internal/registryclient, from the same configuration as containers/image,
// at the location the pull goes to: a registries.conf location rewrite is
// followed (containers/image's GetRepositoryTags would ask the name's own
// registry, one a rewrite takes the pull away from), mirrors are not.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryclient"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

const (
	// DefaultMaxTags is the number of tags an AllTags pull accepts when
	// PullOptions.MaxTags is zero.
	DefaultMaxTags = 10000
	// maxTagPages bounds the pages (Link headers followed) of one listing.
	maxTagPages = 1000
	// maxTagListBytes bounds the bytes of all page bodies of one listing
	// together (a tag is at most 128 characters: 10,000 tags fit in 1.5 MB).
	maxTagListBytes = 32 << 20
)

// tagLister lists one repository's tags.
type tagLister struct {
	client  *registryclient.Client
	repo    reference.Named
	maxTags int
}

// listTags returns the tags of repo (a name without tag), in the registry's
// order, within the limits above.
func listTags(ctx context.Context, sys *types.SystemContext, repo reference.Named, maxTags int) ([]string, error) {
	client, err := registryclient.New(sys, repo)
	if err != nil {
		return nil, err
	}
	defer client.CloseIdleConnections()
	l := &tagLister{client: client, repo: repo, maxTags: maxTags}
	return l.list(ctx)
}

// list follows the pages.
func (l *tagLister) list(ctx context.Context) ([]string, error) {
	path := "/v2/" + l.client.Repository() + "/tags/list"
	budget := int64(maxTagListBytes)
	var tags []string
	for page := 1; ; page++ {
		body, link, err := l.page(ctx, path, &budget)
		if err != nil {
			return nil, err
		}
		var doc struct{ Tags []string }
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, pullerrors.Errorf(pullerrors.Integrity, "decoding the tag list of %s: %w", l.repo.Name(), err)
		}
		for _, tag := range doc.Tags {
			if ok, err := l.validTag(tag); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			if len(tags) >= l.maxTags {
				return nil, pullerrors.Errorf(pullerrors.Unsupported,
					"%s has more than %d tags, the limit of a pull of all tags (PullOptions.MaxTags); pull the tags you need by name", l.repo.Name(), l.maxTags)
			}
			tags = append(tags, tag)
		}
		if link == "" {
			return tags, nil
		}
		if page >= maxTagPages {
			return nil, pullerrors.Errorf(pullerrors.Unsupported,
				"the tag list of %s goes on past %d pages, the limit of a pull of all tags", l.repo.Name(), maxTagPages)
		}
		if path, err = nextPage(link); err != nil {
			return nil, pullerrors.Errorf(pullerrors.Integrity, "the tag list of %s: bad Link header: %w", l.repo.Name(), err)
		}
	}
}

// validTag applies containers/image's rules: a tag must be valid, except
// that empty tags (Nexus sends JSON nulls) and digests (Artifactory lists
// them) are skipped.
func (l *tagLister) validTag(tag string) (bool, error) {
	if _, err := reference.WithTag(l.repo, tag); err != nil {
		if tag == "" {
			return false, nil
		}
		if _, derr := digest.Parse(tag); derr == nil {
			return false, nil
		}
		return false, pullerrors.Errorf(pullerrors.Integrity, "registry returned invalid tag %q: %w", safetext.Truncate(tag, 256), err)
	}
	return true, nil
}

// nextPage is the path and query of a Link header's URL (the host is the
// registry's, whatever the header says, as containers/image does).
func nextPage(link string) (string, error) {
	part, _, _ := strings.Cut(link, ";")
	u, err := url.Parse(strings.Trim(strings.TrimSpace(part), "<>"))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(u.Path, "/") {
		// Appended to the registry's address, it would name another host.
		return "", fmt.Errorf("path %q is not absolute", safetext.Truncate(u.Path, 100))
	}
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery, nil
	}
	return u.Path, nil
}

// page GETs one page and reads at most *budget bytes of its body (less
// what it read).
func (l *tagLister) page(ctx context.Context, path string, budget *int64) ([]byte, string, error) {
	res, err := l.client.Get(ctx, path, nil)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetching tags list: %w", registryclient.ResponseError(res))
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, *budget+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading the tag list of %s: %w", l.repo.Name(), err)
	}
	if int64(len(body)) > *budget {
		return nil, "", pullerrors.Errorf(pullerrors.Unsupported,
			"the tag list of %s is larger than %d bytes, the limit of a pull of all tags", l.repo.Name(), maxTagListBytes)
	}
	*budget -= int64(len(body))
	return body, res.Header.Get("Link"), nil
}
