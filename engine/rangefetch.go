package engine

// The ranged GET that resumes a blob at byte N.
//
// Why our own request: containers/image's registry client is internal; its
// only ranged reads are GetBlobAt (a private interface, unreachable from
// here, which hides the status: a 200 is split silently) and body_reader's
// one in-process reconnect with an open range ("bytes=N-", refused by
// go-containerregistry's registry). So the first request for a blob is
// always containers/image's GetBlob (mirrors, auth, TLS exactly as today),
// and only a resume at N > 0 goes through this small client: the same
// registry (the reference's host), the same credentials (SystemContext,
// auth files), the same TLS settings (certs.d, insecure registries), the
// bearer-token or basic challenge of the registry. Anything it cannot do
// (an OAuth2 identity token, a registry only reachable through a mirror)
// makes the resume fall back to containers/image's GetBlob, skipping the
// first N bytes of the whole body: slower, never wrong.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/pkg/tlsclientconfig"
	"go.podman.io/image/v5/types"
)

// maxTokenBody bounds a token endpoint's answer.
const maxTokenBody = 1 << 20

// rangeFetcher issues ranged blob GETs to one repository.
type rangeFetcher struct {
	host, repo string
	insecure   bool
	creds      types.DockerAuthConfig
	client     *http.Client

	mu     sync.Mutex
	scheme string // "https", or "http" once https failed on an insecure registry
	auth   string // the Authorization header that worked last
}

// newRangeFetcher prepares a client for the registry of named.
func newRangeFetcher(sys *types.SystemContext, named reference.Named) (*rangeFetcher, error) {
	host := reference.Domain(named)
	f := &rangeFetcher{host: host, repo: reference.Path(named), scheme: "https"}
	if host == "docker.io" {
		f.host = "registry-1.docker.io"
	}
	reg, err := sysregistriesv2.FindRegistry(sys, named.Name())
	if err != nil {
		return nil, err
	}
	if reg != nil {
		f.insecure = reg.Insecure
	}
	if sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue {
		f.insecure = true
	}
	f.creds, err = config.GetCredentials(sys, host)
	if err != nil {
		return nil, err
	}
	tr := tlsclientconfig.NewTransport()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: f.insecure} //nolint:gosec // as the registry's configuration says
	if sys.BaseTLSConfig != nil {
		tr.TLSClientConfig = sys.BaseTLSConfig.Clone()
		tr.TLSClientConfig.InsecureSkipVerify = f.insecure
	}
	if dir := certDir(sys, host); dir != "" {
		if err := tlsclientconfig.SetupCertificates(dir, tr.TLSClientConfig); err != nil {
			return nil, err
		}
	}
	if sys.DockerProxyURL != nil {
		tr.Proxy = http.ProxyURL(sys.DockerProxyURL)
	}
	f.client = &http.Client{Transport: tr}
	return f, nil
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

// errNoRangeClient: the fetcher cannot make this request (an auth scheme it
// does not speak); the caller falls back to containers/image.
var errNoRangeClient = errors.New("no ranged request possible")

// get asks for bytes [from, size) of blob d with a closed range. It
// returns the response (status 206 or 200, other statuses are errors) with
// its body open.
func (f *rangeFetcher) get(ctx context.Context, d digest.Digest, from, size int64) (*http.Response, error) {
	f.mu.Lock()
	scheme, auth := f.scheme, f.auth
	f.mu.Unlock()
	res, err := f.do(ctx, scheme, d, from, size, auth)
	if err != nil && scheme == "https" && f.insecure && ctx.Err() == nil {
		scheme = "http" // as containers/image does for insecure registries
		res, err = f.do(ctx, scheme, d, from, size, auth)
	}
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusUnauthorized {
		challenge := res.Header.Get("WWW-Authenticate")
		drain(res)
		auth, err = f.authorize(ctx, challenge)
		if err != nil {
			return nil, err
		}
		if res, err = f.do(ctx, scheme, d, from, size, auth); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	f.scheme, f.auth = scheme, auth
	f.mu.Unlock()
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		drain(res)
		return nil, fmt.Errorf("resuming blob %s: registry answered %s", d, res.Status)
	}
	return res, nil
}

func (f *rangeFetcher) do(ctx context.Context, scheme string, d digest.Digest, from, size int64, auth string) (*http.Response, error) {
	u := url.URL{Scheme: scheme, Host: f.host, Path: "/v2/" + f.repo + "/blobs/" + d.String()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, size-1))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return f.client.Do(req)
}

// authorize answers a 401's challenge: Basic with the credentials, or a
// bearer token from the realm (anonymous when there are none).
func (f *rangeFetcher) authorize(ctx context.Context, challenge string) (string, error) {
	scheme, params := parseChallenge(challenge)
	switch {
	case strings.EqualFold(scheme, "basic") && f.creds.Username != "":
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(f.creds.Username, f.creds.Password)
		return req.Header.Get("Authorization"), nil
	case strings.EqualFold(scheme, "bearer") && f.creds.IdentityToken == "":
		tok, err := f.token(ctx, params)
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	}
	return "", errNoRangeClient
}

// token gets a pull token for the repository from the challenge's realm.
func (f *rangeFetcher) token(ctx context.Context, params map[string]string) (string, error) {
	realm, err := url.Parse(params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", errNoRangeClient
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", "repository:"+f.repo+":pull")
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	if f.creds.Username != "" {
		req.SetBasicAuth(f.creds.Username, f.creds.Password)
	}
	res, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint answered %s", res.Status)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxTokenBody)).Decode(&body); err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	if body.Token != "" {
		return body.Token, nil
	}
	if body.AccessToken != "" {
		return body.AccessToken, nil
	}
	return "", errors.New("the token endpoint sent no token")
}

// parseChallenge splits `Bearer realm="...",service="..."`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		var kv string
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				break
			}
			kv, rest = v[1:end+1], v[end+2:]
		} else {
			kv, rest, _ = strings.Cut(v, ",")
		}
		params[strings.ToLower(strings.TrimSpace(k))] = kv
	}
	return scheme, params
}

// checkContentRange accepts a 206 only if it carries exactly the range
// asked: "bytes from-(size-1)/size" (or "/*"), and a matching length.
func checkContentRange(res *http.Response, from, size int64) error {
	want := fmt.Sprintf("bytes %d-%d/", from, size-1)
	cr := res.Header.Get("Content-Range")
	total, ok := strings.CutPrefix(cr, want)
	if !ok || (total != "*" && total != strconv.FormatInt(size, 10)) {
		return fmt.Errorf("the registry answered range %q, asked %s%d", cr, want, size)
	}
	if res.ContentLength >= 0 && res.ContentLength != size-from {
		return fmt.Errorf("the registry announced %d bytes for a range of %d", res.ContentLength, size-from)
	}
	return nil
}

// drain discards a little of an unwanted body (so the connection can be
// reused) and closes it.
func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
}
