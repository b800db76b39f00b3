package engine

// Listing a repository's tags, bounded.
//
// containers/image's docker.GetRepositoryTags follows the registry's Link
// headers for as long as the registry sends them and decodes each page
// whole, so a hostile registry can make it loop forever (an endless Link
// chain) or exhaust memory (one huge page). listTags does the same job with
// limits: at most maxTagPages pages, maxTagListBytes bytes of page bodies in
// all, and PullOptions.MaxTags tags; past any of them it stops with an
// Unsupported error that names the limit. It talks to the registry as
// containers/image does, from the same configuration: the credentials of
// the pull (options, auth file, credential helpers), registries.conf's
// insecure flag and certs.d, Basic and Bearer (token) authentication, and
// plain HTTP only for a registry whose TLS verification is off.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/pkg/tlsclientconfig"
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
	// maxAuxBody bounds the other bodies the listing reads: error
	// documents and token answers.
	maxAuxBody = 1 << 20
)

// tagLister lists one repository's tags.
type tagLister struct {
	client   *http.Client
	base     []string // "https://host", then "http://host" when TLS verification is off
	repo     reference.Named
	auth     types.DockerAuthConfig
	agent    string
	maxTags  int
	header   string // Authorization, once known
	authDone bool
}

// listTags returns the tags of repo (a name without tag), in the registry's
// order, within the limits above.
func listTags(ctx context.Context, sys *types.SystemContext, repo reference.Named, maxTags int) ([]string, error) {
	l, err := newTagLister(sys, repo, maxTags)
	if err != nil {
		return nil, err
	}
	defer l.client.CloseIdleConnections()
	var lastErr error
	for _, base := range l.base {
		tags, err := l.list(ctx, base)
		if err == nil || !fallsBackToHTTP(err) {
			return tags, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// fallsBackToHTTP reports whether a failed HTTPS attempt may be tried again
// over plain HTTP: only when nothing was answered over HTTPS.
func fallsBackToHTTP(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

func newTagLister(sys *types.SystemContext, repo reference.Named, maxTags int) (*tagLister, error) {
	host := reference.Domain(repo)
	endpoint := host
	if host == "docker.io" {
		endpoint = "registry-1.docker.io"
	}
	tlsc := &tls.Config{}
	if sys.BaseTLSConfig != nil {
		tlsc = sys.BaseTLSConfig.Clone()
	}
	if dir := certDir(sys, host); dir != "" {
		if err := tlsclientconfig.SetupCertificates(dir, tlsc); err != nil {
			return nil, err
		}
	}
	reg, err := sysregistriesv2.FindRegistry(sys, repo.Name())
	if err != nil {
		return nil, fmt.Errorf("loading registries: %w", err)
	}
	if reg != nil {
		if reg.Blocked {
			return nil, fmt.Errorf("registry %s is blocked in one of %s", reg.Prefix, sysregistriesv2.ConfigurationSourceDescription(sys))
		}
		tlsc.InsecureSkipVerify = reg.Insecure
	}
	if sys.DockerInsecureSkipTLSVerify != types.OptionalBoolUndefined {
		tlsc.InsecureSkipVerify = sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
	}
	creds, err := config.GetCredentialsForRef(sys, repo)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", repo.Name(), err)
	}
	tr := tlsclientconfig.NewTransport()
	tr.TLSClientConfig = tlsc
	switch {
	case sys.DockerProxy != nil:
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return sys.DockerProxy(r.URL) }
	case sys.DockerProxyURL != nil:
		tr.Proxy = http.ProxyURL(sys.DockerProxyURL)
	}
	l := &tagLister{
		client:  &http.Client{Transport: tr},
		base:    []string{"https://" + endpoint},
		repo:    repo,
		auth:    creds,
		agent:   sys.DockerRegistryUserAgent,
		maxTags: maxTags,
	}
	if tlsc.InsecureSkipVerify {
		l.base = append(l.base, "http://"+endpoint)
	}
	return l, nil
}

// list follows the pages from base.
func (l *tagLister) list(ctx context.Context, base string) ([]string, error) {
	path := "/v2/" + reference.Path(l.repo) + "/tags/list"
	budget := int64(maxTagListBytes)
	var tags []string
	for page := 1; ; page++ {
		body, link, err := l.page(ctx, base+path, &budget)
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
		return false, pullerrors.Errorf(pullerrors.Integrity, "registry returned invalid tag %q: %w", pullerrors.Truncate(tag, 256), err)
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
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery, nil
	}
	return u.Path, nil
}

// page GETs one page, authenticating on the first 401, and reads at most
// *budget bytes of its body (less what it read).
func (l *tagLister) page(ctx context.Context, u string, budget *int64) ([]byte, string, error) {
	res, err := l.get(ctx, u, l.header)
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode == http.StatusUnauthorized && !l.authDone {
		l.authDone = true
		header, err := l.authenticate(ctx, res)
		res.Body.Close()
		if err != nil {
			return nil, "", err
		}
		l.header = header
		if res, err = l.get(ctx, u, header); err != nil {
			return nil, "", err
		}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetching tags list: %w", responseError(res))
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

func (l *tagLister) get(ctx context.Context, u, authorization string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if l.agent != "" {
		req.Header.Set("User-Agent", l.agent)
	}
	req.Header.Set("Docker-Distribution-API-Version", "registry/2.0")
	return l.client.Do(req)
}

// authenticate answers a 401's challenge: Basic with the credentials, or a
// Bearer token for pulling the repository from the challenge's realm. It
// returns the Authorization header to send, or the refusal as an error.
func (l *tagLister) authenticate(ctx context.Context, res *http.Response) (string, error) {
	for _, c := range parseChallenges(res.Header.Values("WWW-Authenticate")) {
		switch c.scheme {
		case "bearer":
			if c.params["error"] == "insufficient_scope" && l.header != "" {
				continue // a token we already hold is not enough: refused
			}
			token, err := l.token(ctx, c.params)
			if err != nil {
				return "", err
			}
			return "Bearer " + token, nil
		case "basic":
			if l.auth.Username != "" {
				req := &http.Request{Header: http.Header{}}
				req.SetBasicAuth(l.auth.Username, l.auth.Password)
				return req.Header.Get("Authorization"), nil
			}
		}
	}
	return "", fmt.Errorf("fetching tags list: %w", responseError(res))
}

// token fetches a Bearer token for pulling the repository, as
// containers/image does: GET with Basic credentials, or POST of the identity
// token (OAuth2 refresh token).
func (l *tagLister) token(ctx context.Context, params map[string]string) (string, error) {
	realm := params["realm"]
	if realm == "" {
		return "", pullerrors.Errorf(pullerrors.Integrity, "missing realm in bearer auth challenge")
	}
	scope := "repository:" + reference.Path(l.repo) + ":pull"
	var req *http.Request
	var err error
	if l.auth.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {l.auth.IdentityToken},
			"client_id": {"containers/image"}, "scope": {scope}, "service": {params["service"]}}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, realm, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, realm, nil)
		if err == nil {
			q := req.URL.Query()
			if l.auth.Username != "" {
				q.Set("account", l.auth.Username)
			}
			if s := params["service"]; s != "" {
				q.Set("service", s)
			}
			q.Set("scope", scope)
			req.URL.RawQuery = q.Encode()
			if l.auth.Username != "" && l.auth.Password != "" {
				req.SetBasicAuth(l.auth.Username, l.auth.Password)
			}
		}
	}
	if err != nil {
		return "", pullerrors.Wrap(pullerrors.Integrity, fmt.Errorf("bad token realm %q: %w", pullerrors.Truncate(realm, 256), err))
	}
	if l.agent != "" {
		req.Header.Set("User-Agent", l.agent)
	}
	res, err := l.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return "", docker.ErrUnauthorizedForCredentials{Err: responseError(res)}
	case http.StatusTooManyRequests:
		return "", docker.ErrTooManyRequests
	default:
		return "", fmt.Errorf("requesting bearer token: %s%.0w", res.Status, docker.UnexpectedHTTPStatusError{StatusCode: res.StatusCode})
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAuxBody))
	if err != nil {
		return "", err
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", pullerrors.Wrap(pullerrors.Integrity, fmt.Errorf("decoding the token answer: %w", err))
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	return tok.Token, nil
}

// responseError turns a registry's error answer into the errors
// containers/image makes of it (a registry error code, or an HTTP status),
// reading at most maxAuxBody bytes of its body.
func responseError(res *http.Response) error {
	if res.StatusCode == http.StatusUnauthorized {
		for _, c := range parseChallenges(res.Header.Values("WWW-Authenticate")) {
			if c.scheme == "bearer" && c.params["error"] == "insufficient_scope" {
				msg := c.params["error_description"]
				if msg == "" {
					msg = errcode.ErrorCodeDenied.Message()
				}
				return errcode.Error{Code: errcode.ErrorCodeDenied, Message: msg}
			}
		}
	}
	if res.StatusCode == http.StatusTooManyRequests {
		return docker.ErrTooManyRequests
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxAuxBody))
	var errs errcode.Errors
	if json.Unmarshal(body, &errs) == nil && len(errs) > 0 {
		return errs[0]
	}
	if res.StatusCode == http.StatusUnauthorized {
		return errcode.ErrorCodeUnauthorized
	}
	return fmt.Errorf("%s: %q%.0w", res.Status, pullerrors.Truncate(string(body), 50), docker.UnexpectedHTTPStatusError{StatusCode: res.StatusCode})
}

// challenge is one WWW-Authenticate challenge.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses WWW-Authenticate values: a scheme, then
// comma-separated key=value or key="quoted value" parameters; a new scheme
// starts a new challenge.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		s := strings.TrimSpace(v)
		for s != "" {
			scheme, rest, _ := strings.Cut(s, " ")
			c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
			s = parseParams(strings.TrimSpace(rest), c.params)
			out = append(out, c)
		}
	}
	return out
}

// parseParams reads parameters into params and returns what follows them
// (the next challenge).
func parseParams(s string, params map[string]string) string {
	for s != "" {
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexAny(s, " ,")
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp >= 0 && s[sp] == ' ' && (eq < 0 || sp < eq) && strings.TrimSpace(s[:sp]) != "" {
				return s // "Basic realm=x, Bearer ...": s starts the next challenge
			}
			if sp < 0 {
				return ""
			}
			s = strings.TrimLeft(s[sp:], " ,")
			continue
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val, s = b.String(), s[min(i+1, len(s)):]
		} else {
			end := strings.IndexAny(s, ", ")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		params[key] = val
		s = strings.TrimLeft(s, " ,")
	}
	return ""
}
