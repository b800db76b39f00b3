package engine

// Per-registry credentials. containers/image takes credentials either as
// one set for every registry (SystemContext.DockerAuthConfig) or from auth
// files and credential helpers, looked up per registry; it has no
// in-memory map. PullOptions.RegistryCredentials are therefore written as
// an auth file (containers-auth.json(5)) in a private directory under the
// Engine's temporary directory, held by the pull and by the shared
// transfer it starts, and removed when the last of them lets it go.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryclient"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"
)

// Credentials are the credentials for one registry: a username and
// password, or an identity token (an OAuth2 refresh token).
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string
}

// String hides the secrets, so that printing options never shows them.
func (c Credentials) String() string {
	if c.Password != "" || c.IdentityToken != "" {
		return "{" + c.Username + " xxxxx}"
	}
	return "{" + c.Username + "}"
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// authFile is the auth file written for a pull's RegistryCredentials. The
// pull holds it, and so does a shared transfer started with it (which may
// outlive the pull that started it); the file is removed when the last
// holder releases it.
type authFile struct {
	path string
	// key identifies the credentials by content: the SHA-256 of the file,
	// whose encoding is canonical (JSON with sorted keys). Pulls with equal
	// RegistryCredentials have equal keys, and so may share a transfer.
	key    string
	remove func()

	mu   sync.Mutex
	refs int
}

// hold adds a holder. A nil authFile (no RegistryCredentials) is a no-op.
func (a *authFile) hold() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.refs++
	a.mu.Unlock()
}

// release drops a holder, and removes the file when none is left.
func (a *authFile) release() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.refs--
	last := a.refs == 0
	a.mu.Unlock()
	if last {
		a.remove()
	}
}

// writeRegistryCredentials writes creds as an auth file in a new private
// directory under dir, held once (by the caller).
func writeRegistryCredentials(dir string, creds map[string]Credentials) (*authFile, error) {
	type entry struct {
		Auth          string `json:"auth,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
	}
	auths := map[string]entry{}
	for key, c := range creds {
		if key = authFileKey(key); key == "" {
			continue
		}
		var e entry
		if c.Username != "" || c.Password != "" {
			e.Auth = base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
		}
		e.IdentityToken = c.IdentityToken
		auths[key] = e
	}
	// json.Marshal sorts map keys: equal credentials give equal bytes.
	content, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		return nil, err
	}
	private, err := os.MkdirTemp(dir, "auth-")
	if err != nil {
		return nil, fmt.Errorf("storing the pull's registry credentials: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	remove := func() { _ = os.RemoveAll(private) }
	path := filepath.Join(private, "auth.json")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		remove()
		return nil, fmt.Errorf("storing the pull's registry credentials: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	sum := sha256.Sum256(content)
	return &authFile{path: path, key: hex.EncodeToString(sum[:]), remove: remove, refs: 1}, nil
}

// authFileKey turns a key of a credentials map into an auth file key, as
// libpod's normalizeAuthFileKey: a URL ("https://index.docker.io/v1/")
// stands for its whole registry, and Docker Hub's aliases are docker.io.
func authFileKey(key string) string {
	stripped := strings.TrimPrefix(key, "http://")
	stripped = strings.TrimPrefix(stripped, "https://")
	if stripped != key {
		stripped, _, _ = strings.Cut(stripped, "/")
	}
	switch stripped {
	case "registry-1.docker.io", "index.docker.io":
		return "docker.io"
	}
	return stripped
}

// sendsCredentials reports whether containers/image sends credentials when
// it pulls named with sys, which decides whether a registry's refusal means
// "does not exist or requires authentication" (anonymous) or "not allowed
// with the given credentials" (CandidateError.Authenticated).
//
// It asks what containers/image asks: the registry it contacts is the
// primary pull source sysregistriesv2 gives for named (the location after
// a registries.conf rewrite; mirrors are tried first, but the error a pull
// returns, and so the refusal classified, is the primary's); the explicit
// credentials (sys.DockerAuthConfig) go there only when the rewrite keeps
// the registry, and otherwise config.GetCredentialsForRef looks that
// source up in the auth file and credential helpers (--authfile,
// REGISTRY_AUTH_FILE, RegistryCredentials).
func sendsCredentials(sys *types.SystemContext, named reference.Named) bool {
	physical := primarySource(sys, named)
	if sys.DockerAuthConfig != nil && reference.Domain(physical) == reference.Domain(named) {
		return true
	}
	lookup := *sys
	lookup.DockerAuthConfig, lookup.DockerBearerRegistryToken = nil, ""
	auth, err := config.GetCredentialsForRef(&lookup, physical)
	return err == nil && (auth.Username != "" || auth.Password != "" || auth.IdentityToken != "")
}

// primarySource is the reference containers/image pulls named from when no
// mirror serves it: named after registries.conf's location rewrite.
func primarySource(sys *types.SystemContext, named reference.Named) reference.Named {
	sources, err := registryclient.PullSources(sys, named)
	if err != nil {
		return named
	}
	return sources[len(sources)-1].Ref // the location is always last
}
