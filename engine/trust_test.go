package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

// The host's signature policy is enforced: a rejected scope and a missing
// required signature are Denied, and nothing is stored.
func TestSignaturePolicy(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := reg.Host + "/team/app:v1"
	keyPath := writePublicKey(t)

	cases := []struct {
		name   string
		policy string
		denied bool
	}{
		{"accept anything", `{"default":[{"type":"insecureAcceptAnything"}]}`, false},
		{"reject the registry", fmt.Sprintf(`{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{%q:[{"type":"reject"}]}}}`, reg.Host), true},
		{"reject by default", `{"default":[{"type":"reject"}]}`, true},
		{"signature required, none present", fmt.Sprintf(`{"default":[{"type":"sigstoreSigned","keyPath":%q,"signedIdentity":{"type":"matchRepository"}}]}`, keyPath), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithPolicyJSON(c.policy))
			_, err := e.Pull(context.Background(), ref, policy.Always, nil)
			if !c.denied {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if k := pullerrors.Classify(err); k != pullerrors.Denied || pullerrors.HTTPStatus(err) != 403 {
				t.Fatalf("kind %v, status %d, want denied 403: %v", k, pullerrors.HTTPStatus(err), err)
			}
			if !strings.Contains(err.Error(), "polic") {
				t.Errorf("message %q does not say a policy refused", err)
			}
			if _, err := e.Pull(context.Background(), ref, policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
				t.Errorf("a refused image was stored: %v", err)
			}
		})
	}
}

// writePublicKey writes a fresh ECDSA public key (PEM), as cosign makes.
func writePublicKey(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
