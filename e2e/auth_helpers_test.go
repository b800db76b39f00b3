package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/crypto/bcrypt"
)

// withHtpasswd protects the registry with distribution's htpasswd access
// controller, one bcrypt user.
func withHtpasswd(t *testing.T, user, password string) distOption {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return withAuth("htpasswd",
		configuration.Parameters{"realm": "e2e", "path": path},
		&authn.Basic{Username: user, Password: password})
}

const (
	tokenPath    = "/token"
	tokenIssuer  = "e2e-token-issuer"
	tokenService = "e2e-registry"
	tokenKeyID   = "e2e-key"
)

// tokenServer is a minimal Docker token server (the flow of Docker Hub and
// docker_auth): GET /token?service=..&scope=repository:NAME:ACTIONS with
// optional Basic credentials. Right credentials get every action asked;
// wrong ones a 401; none an anonymous token that grants nothing, so the
// registry refuses it with 401 insufficient_scope whether or not the
// repository exists, as Docker Hub does for private repositories.
//
// It is served on the registry's own address (tokenPath): go-containerregistry,
// which pushes the fixtures, refuses a realm on another loopback address.
type tokenServer struct {
	user, password string
	key            *ecdsa.PrivateKey
	signer         jose.Signer
}

// withTokenAuth protects the registry with distribution's token access
// controller, trusting tokenServer's key through a JWKS file.
func withTokenAuth(t *testing.T, user, password string) distOption {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", tokenKeyID))
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{user: user, password: password, key: key, signer: signer}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: tokenKeyID, Algorithm: string(jose.ES256), Use: "sig"}}}
	data, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *configuration.Configuration, r *distRegistry) {
		withAuth("token", configuration.Parameters{
			"realm":             r.URL + tokenPath,
			"service":           tokenService,
			"issuer":            tokenIssuer,
			"jwks":              path,
			"signingalgorithms": []any{"ES256"},
		}, &authn.Basic{Username: user, Password: password})(c, r)
		r.token = http.HandlerFunc(ts.serve)
	}
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	user, password, given := r.BasicAuth()
	if given && (user != ts.user || password != ts.password) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`))
		return
	}
	var access []*token.ResourceActions
	if given {
		for _, scope := range r.URL.Query()["scope"] {
			// repository:team/app:pull,push
			parts := strings.Split(scope, ":")
			if len(parts) != 3 {
				continue
			}
			access = append(access, &token.ResourceActions{Type: parts[0], Name: parts[1], Actions: strings.Split(parts[2], ",")})
		}
	}
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	now := time.Now()
	claims := token.ClaimSet{
		Issuer:     tokenIssuer,
		Subject:    user,
		Audience:   token.AudienceList{tokenService},
		Expiration: now.Add(5 * time.Minute).Unix(),
		NotBefore:  now.Add(-time.Second).Unix(),
		IssuedAt:   now.Unix(),
		JWTID:      hex.EncodeToString(jti),
		Access:     access,
	}
	raw, err := jwt.Signed(ts.signer).Claims(claims).Serialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": raw, "access_token": raw, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
}
