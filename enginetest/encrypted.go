package enginetest

// Encrypted images.
//
// ocicrypt encrypts each layer with a fresh symmetric key and wraps that key
// for every recipient: here JWE, for the public half of an RSA key, as
// `skopeo copy --encryption-key jwe:pub.pem` and `podman push
// --encryption-key` do. Whoever holds a recipient's private key can pull the
// image decrypted (`podman pull --decryption-key key.pem`). The kit encrypts
// with containers/image itself, so the images are what real tools write.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	encconfig "github.com/containers/ocicrypt/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// EncryptionKey is an RSA key pair to encrypt test images to (its public
// half) and to decrypt them with (its private half).
type EncryptionKey struct {
	private *rsa.PrivateKey
}

// NewEncryptionKey generates a 2048-bit RSA key.
func NewEncryptionKey(t testing.TB) *EncryptionKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	return &EncryptionKey{private: k}
}

// PrivateKeyPEM returns the private key as PEM: PKCS#8, or, with a
// passphrase, a PKCS#1 block encrypted with it (what `openssl genrsa
// -aes256` writes, the form ocicrypt opens with a passphrase).
func (k *EncryptionKey) PrivateKeyPEM(t testing.TB, passphrase string) []byte {
	t.Helper()
	if passphrase == "" {
		der, err := x509.MarshalPKCS8PrivateKey(k.private)
		must(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	//lint:ignore SA1019 the legacy encrypted PEM is the only passphrase form ocicrypt reads
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.private), []byte(passphrase), x509.PEMCipherAES256)
	must(t, err)
	return pem.EncodeToMemory(block)
}

// WritePrivateKey writes PrivateKeyPEM to a file in a temp dir and returns
// its path.
func (k *EncryptionKey) WritePrivateKey(t testing.TB, passphrase string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	must(t, os.WriteFile(path, k.PrivateKeyPEM(t, passphrase), 0o600))
	return path
}

// PublicKeyPEM returns the public key as a PKIX PEM block, what images are
// encrypted to (skopeo copy --encryption-key jwe:FILE).
func (k *EncryptionKey) PublicKeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.private.PublicKey)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PushEncrypted stores img in the registry under ref ("repo:tag", no host)
// with every layer encrypted for recipients, copied by containers/image
// with an OciEncryptConfig. The manifest is OCI (encryption needs it); the
// config is img's, so a decrypted pull stores it under ID(t, img) when img
// was built with OCI().
func (r *Registry) PushEncrypted(t testing.TB, ref string, img v1.Image, recipients ...*EncryptionKey) {
	t.Helper()
	dir := t.TempDir()
	WriteOCILayout(t, filepath.Join(dir, "layout"), img, map[string]string{AnnotationRefName: "src"})
	src, err := layout.ParseReference(filepath.Join(dir, "layout") + ":src")
	must(t, err)
	dest, err := docker.ParseReference("//" + r.pushHost() + "/" + ref)
	must(t, err)

	var pubs [][]byte
	for _, k := range recipients {
		pubs = append(pubs, k.PublicKeyPEM(t))
	}
	cc, err := encconfig.EncryptWithJwe(pubs)
	must(t, err)
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	must(t, err)
	defer func() { _ = pc.Destroy() }()
	sys := isolatedSystemContext(t, dir)
	all := []int{} // empty: every layer
	_, err = copy.Image(context.Background(), pc, dest, src, &copy.Options{
		SourceCtx: sys, DestinationCtx: sys,
		OciEncryptConfig: cc.EncryptConfig, OciEncryptLayers: &all,
	})
	must(t, err)
}

// isolatedSystemContext is a SystemContext for the kit's own copies that
// reads no host configuration and writes only below dir; the kit's push
// listener speaks plain HTTP.
func isolatedSystemContext(t testing.TB, dir string) *types.SystemContext {
	t.Helper()
	conf := filepath.Join(dir, "conf")
	must(t, os.MkdirAll(filepath.Join(conf, "registries.d"), 0o700))
	must(t, os.WriteFile(filepath.Join(conf, "registries.conf"), nil, 0o600))
	must(t, os.WriteFile(filepath.Join(conf, "auth.json"), []byte("{}"), 0o600))
	return &types.SystemContext{
		SystemRegistriesConfPath:    filepath.Join(conf, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(conf, "registries.conf.d"),
		RegistriesDirPath:           filepath.Join(conf, "registries.d"),
		AuthFilePath:                filepath.Join(conf, "auth.json"),
		BlobInfoCacheDir:            conf,
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
	}
}
