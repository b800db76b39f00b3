// Package registryclient is the engine's small HTTP client for the few
// registry requests containers/image cannot make for it (a bounded tag
// list, a ranged blob GET for a resume). It talks to one repository of one
// registry as containers/image does, from the same types.SystemContext:
// registries.conf (blocked and insecure registries), certs.d, the proxy,
// the credentials of the repository (options, auth files, credential
// helpers), Basic and Bearer authentication (including OAuth2 identity
// tokens), the user agent, and plain HTTP only for a registry whose TLS
// verification is off. Everything a registry sends it reads bounded.
//
// Endpoints are resolved as containers/image resolves a pull (sources.go):
// registries.conf location rewrites and mirrors, each endpoint with its
// own TLS settings and credentials; a prefix a location rewrites away is
// never contacted.
package registryclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/safetext"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/pkg/tlsclientconfig"
	"go.podman.io/image/v5/types"
)

// MaxAuxBody bounds the bodies the client reads besides the ones its
// callers read themselves: error documents and token answers.
const MaxAuxBody = 1 << 20

// Client makes GETs to one repository of one registry. It is safe for
// concurrent use.
type Client struct {
	http     *http.Client
	endpoint string // host[:port] the requests go to
	insecure bool   // TLS verification off: plain HTTP after HTTPS fails
	repo     reference.Named
	creds    types.DockerAuthConfig
	agent    string
	ns       string // registries.conf namespace-proxy: the "ns" query parameter

	mu     sync.Mutex
	scheme string // "https", or "http" once HTTPS failed on an insecure registry
	auth   string // the Authorization header that worked last
}

// New prepares the client for the location containers/image pulls repo
// from (a name; a tag or digest is ignored): its registry, or the location
// a registries.conf entry rewrites it to. Mirrors are not used: this is
// where tag lists go. A registry blocked in registries.conf is refused.
func New(sys *types.SystemContext, repo reference.Named) (*Client, error) {
	srcs, err := PullSources(sys, reference.TrimNamed(repo))
	if err != nil {
		return nil, err
	}
	loc := srcs[len(srcs)-1]
	return NewForSource(sys, repo, loc)
}

// NewForSource prepares a client for one pull source of the name logical,
// configured as containers/image configures the client of that source
// (docker/docker_image_src.go newImageSourceAttempt): certs.d and
// registries.conf's blocked flag of the source's own host and name, its
// endpoint's insecure flag (SystemContext.DockerInsecureSkipTLSVerify
// overriding it), the proxy, and the credentials of the source's name;
// credentials given in the SystemContext go only to the logical name's
// registry, never to a mirror on another host.
func NewForSource(sys *types.SystemContext, logical reference.Named, src Source) (*Client, error) {
	if sys == nil {
		sys = &types.SystemContext{}
	}
	physical := src.Ref
	host := reference.Domain(physical)
	endpoint := host
	if host == "docker.io" {
		endpoint = "registry-1.docker.io"
	}
	tlsc, err := tlsConfig(sys, host)
	if err != nil {
		return nil, err
	}
	reg, err := sysregistriesv2.FindRegistry(sys, physical.Name())
	if err != nil {
		return nil, fmt.Errorf("loading registries: %w", err)
	}
	if reg != nil && reg.Blocked {
		return nil, fmt.Errorf("registry %s is blocked in one of %s", reg.Prefix, sysregistriesv2.ConfigurationSourceDescription(sys))
	}
	tlsc.InsecureSkipVerify = src.Insecure
	if sys.DockerInsecureSkipTLSVerify != types.OptionalBoolUndefined {
		tlsc.InsecureSkipVerify = sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
	}
	credSys := sys
	if sys.DockerAuthConfig != nil && host != reference.Domain(logical) {
		c := *sys
		c.DockerAuthConfig, c.DockerBearerRegistryToken = nil, ""
		credSys = &c
	}
	creds, err := config.GetCredentialsForRef(credSys, physical)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", physical.Name(), err)
	}
	tr := tlsclientconfig.NewTransport()
	tr.TLSClientConfig = tlsc
	switch {
	case sys.DockerProxy != nil:
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return sys.DockerProxy(r.URL) }
	case sys.DockerProxyURL != nil:
		tr.Proxy = http.ProxyURL(sys.DockerProxyURL)
	}
	return &Client{
		http:     &http.Client{Transport: tr},
		endpoint: endpoint,
		insecure: tlsc.InsecureSkipVerify,
		repo:     reference.TrimNamed(physical),
		creds:    creds,
		agent:    sys.DockerRegistryUserAgent,
		ns:       src.NamespaceProxy,
		scheme:   "https",
	}, nil
}

// tlsConfig is the base TLS configuration with the certificates of host's
// certs.d directory.
func tlsConfig(sys *types.SystemContext, host string) (*tls.Config, error) {
	tlsc := &tls.Config{}
	if sys.BaseTLSConfig != nil {
		tlsc = sys.BaseTLSConfig.Clone()
	}
	if dir := certDir(sys, host); dir != "" {
		if err := tlsclientconfig.SetupCertificates(dir, tlsc); err != nil {
			return nil, err
		}
	}
	return tlsc, nil
}

// certDir finds the certs.d directory of host, as containers-certs.d(5)
// says (the system directories; per-user ones are not searched).
func certDir(sys *types.SystemContext, host string) string {
	if sys.DockerCertPath != "" {
		return sys.DockerCertPath
	}
	if sys.DockerPerHostCertDirPath != "" {
		return filepath.Join(sys.DockerPerHostCertDirPath, host)
	}
	for _, base := range []string{"/etc/containers/certs.d", "/etc/docker/certs.d"} {
		dir := filepath.Join(sys.RootForImplicitAbsolutePaths, base, host)
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	return ""
}

// Repository is the repository's path in the registry ("library/alpine").
func (c *Client) Repository() string { return reference.Path(c.repo) }

// Host is the registry the client talks to, as named in references
// ("docker.io", "quay.io", "mirror.example:5000").
func (c *Client) Host() string { return reference.Domain(c.repo) }

// Authenticated reports whether the client has credentials for its
// registry (from the options, an auth file or a credential helper).
func (c *Client) Authenticated() bool {
	return c.creds.Username != "" || c.creds.Password != "" || c.creds.IdentityToken != ""
}

// CloseIdleConnections closes the client's idle connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Get GETs path (with its query, "/v2/..."), with the extra headers given.
// Over HTTPS first; for an insecure registry, over plain HTTP when HTTPS got
// no answer at all (and from then on). A 401 is answered once per call:
// the challenge's Basic or Bearer authentication, then the same GET again;
// the Authorization that worked is kept for the next calls. The response
// is returned whatever its status (a 401 whose challenge the client cannot
// answer included), its body open: see ResponseError for the errors.
func (c *Client) Get(ctx context.Context, path string, header http.Header) (*http.Response, error) {
	c.mu.Lock()
	scheme, auth := c.scheme, c.auth
	c.mu.Unlock()
	res, err := c.do(ctx, scheme, path, header, auth)
	if err != nil && scheme == "https" && c.insecure && fallsBackToHTTP(ctx, err) {
		scheme = "http" // as containers/image does for insecure registries
		res, err = c.do(ctx, scheme, path, header, auth)
	}
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusUnauthorized {
		newAuth, ok, err := c.authenticate(ctx, res, auth)
		if err != nil || !ok {
			if err != nil {
				Drain(res)
				return nil, err
			}
			return res, nil
		}
		Drain(res)
		auth = newAuth
		if res, err = c.do(ctx, scheme, path, header, auth); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.scheme, c.auth = scheme, auth
	c.mu.Unlock()
	return res, nil
}

// fallsBackToHTTP reports whether a failed HTTPS request may be made again
// over plain HTTP: only when nothing was answered over HTTPS and the
// caller did not give up.
func fallsBackToHTTP(ctx context.Context, err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && ctx.Err() == nil
}

func (c *Client) do(ctx context.Context, scheme, path string, header http.Header, auth string) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		// "https://host" + ".evil.example/x" would be another host, and
		// the credentials would go there.
		return nil, pullerrors.Errorf(pullerrors.Integrity, "request path %q does not start with /", safetext.Truncate(path, 100))
	}
	u, err := url.Parse(scheme + "://" + c.endpoint + path)
	if err != nil {
		return nil, err
	}
	if c.ns != "" {
		q := u.Query()
		q.Set("ns", c.ns)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c.setCommon(req)
	req.Header.Set("Docker-Distribution-API-Version", "registry/2.0")
	return c.http.Do(req)
}

// setCommon sets what every request of the client carries.
func (c *Client) setCommon(req *http.Request) {
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
}

// Drain discards a little of an unwanted body (so the connection can be
// reused) and closes it.
func Drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
}
