package engine

// Encrypted images (ocicrypt).
//
// An encrypted image has layers of a media type ending in "+encrypted":
// each layer is encrypted with its own symmetric key, and that key is
// wrapped, in the layer's annotations, for each recipient (JWE for an RSA or
// EC public key). containers/image decrypts such layers while it copies
// them when given a DecryptConfig with the recipients' private keys, as
// `podman pull --decryption-key` does.
//
// Every pull passes a DecryptConfig, empty when no key was given: without
// one, containers/image would store the encrypted bytes as they are and the
// store would fail later with a baffling DiffID mismatch; with an empty one
// it stops at the first encrypted layer, which the engine reports as a
// Decryption error that names the layer and the image.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"

	encconfig "github.com/containers/ocicrypt/config"
	encutils "github.com/containers/ocicrypt/utils"
	pullerrors "github.com/pullengine/pullengine/errors"
)

// DecryptionKey is a private key that decrypts the layers of images
// encrypted with ocicrypt for its public key: PEM or DER (PKCS#1, PKCS#8,
// SEC 1 EC) or JWK, as `podman pull --decryption-key` reads them. Exactly
// one of Path and Key is set.
type DecryptionKey struct {
	// Path names the key file.
	Path string
	// Key holds the key itself.
	Key []byte
	// Passphrase opens a key stored encrypted (a PEM block with
	// "Proc-Type: 4,ENCRYPTED"); empty for a key stored in clear.
	Passphrase string
}

// decryption is what a pull needs to decrypt: the config handed to every
// copy, how many keys it holds (for messages), and an identity of the keys
// for the flight key (empty without keys).
type decryption struct {
	config *encconfig.DecryptConfig
	keys   int
	id     string
}

// newDecryption reads and checks the keys; an unreadable key, one that is
// not a private key, or a wrong or missing passphrase is InvalidArgument,
// before anything is fetched.
func newDecryption(keys []DecryptionKey) (decryption, error) {
	d := decryption{config: &encconfig.DecryptConfig{}, keys: len(keys)}
	if len(keys) == 0 {
		return d, nil
	}
	privs, passes := make([][]byte, 0, len(keys)), make([][]byte, 0, len(keys))
	h := sha256.New()
	for i, k := range keys {
		data, err := k.checked(i)
		if err != nil {
			return d, err
		}
		privs, passes = append(privs, data), append(passes, []byte(k.Passphrase))
		fmt.Fprintf(h, "%d\x00%s\x00%d\x00%s\x00", len(data), data, len(k.Passphrase), k.Passphrase)
	}
	cc, err := encconfig.DecryptWithPrivKeys(privs, passes)
	if err != nil {
		return d, fmt.Errorf("decryption keys: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	d.config, d.id = cc.DecryptConfig, "+keys:"+hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// checked returns the key's bytes if they hold a private key that its
// passphrase (if any) opens. Errors name the key by path or position,
// never by content or passphrase.
func (k DecryptionKey) checked(i int) ([]byte, error) {
	name := fmt.Sprintf("decryption key %d (bytes)", i+1)
	data := k.Key
	switch {
	case k.Path != "" && k.Key != nil:
		return nil, pullerrors.Errorf(pullerrors.InvalidArgument, "decryption key %d has both a path and bytes; give one", i+1)
	case k.Path != "":
		if form, ok := passphraseForm(k.Path); ok {
			// "pass=SECRET" given where the key file goes: the path is a
			// passphrase, and open's error would quote it.
			return nil, pullerrors.Errorf(pullerrors.InvalidArgument,
				"decryption key %d: the key file's path is missing: its path is a passphrase (%s...); give the key file first (KEY:%s...)", i+1, form, form)
		}
		name = "decryption key " + k.Path
		var err error
		if data, err = os.ReadFile(k.Path); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, pullerrors.Wrap(pullerrors.InvalidArgument, err))
		}
	}
	if encutils.IsPkcs11PrivateKey(data) {
		return nil, pullerrors.Errorf(pullerrors.InvalidArgument, "%s is a PKCS#11 key, which is not supported", name)
	}
	var pass []byte
	if k.Passphrase != "" {
		pass = []byte(k.Passphrase)
	}
	if ok, err := encutils.IsPrivateKey(data, pass); !ok {
		if encutils.IsPasswordError(err) {
			return nil, pullerrors.Errorf(pullerrors.InvalidArgument, "%s: the passphrase is missing or wrong", name)
		}
		return nil, pullerrors.Errorf(pullerrors.InvalidArgument, "%s is not a private key (PEM, DER or JWK)", name)
	}
	return data, nil
}

// passphraseForm returns the ocicrypt passphrase prefix path starts with
// ("pass=", "file=", "fd="), if any: such a path is a passphrase given
// without its key file, and must not be opened or quoted.
func passphraseForm(path string) (string, bool) {
	for _, form := range []string{"pass=", "file=", "fd="} {
		if strings.HasPrefix(path, form) {
			if _, err := os.Lstat(path); err == nil {
				return "", false // a real file of that name
			}
			return form, true
		}
	}
	return "", false
}

// decryptingLayer finds the layer in containers/image's error for a layer
// it could not decrypt ("decrypting layer sha256:...: <ocicrypt's reason>").
var decryptingLayer = regexp.MustCompile(`decrypting layer (\S+): `)

// explain turns containers/image's failure to decrypt a layer into a
// Decryption error that names the layer and says whether keys were given
// (the caller names the image); other errors pass unchanged. ocicrypt's own
// reason (a multi-line list of what each key wrapper tried) is left out.
func (d decryption) explain(err error) error {
	m := decryptingLayer.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	switch d.keys {
	case 0:
		return pullerrors.Errorf(pullerrors.Decryption, "layer %s is encrypted and no decryption key was given", m[1])
	case 1:
		return pullerrors.Errorf(pullerrors.Decryption, "layer %s is encrypted and the decryption key given does not open it", m[1])
	}
	return pullerrors.Errorf(pullerrors.Decryption, "layer %s is encrypted and none of the %d decryption keys given opens it", m[1], d.keys)
}
