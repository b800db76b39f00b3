package main

// --decryption-key, in podman's syntax.

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pullengine/pullengine/engine"
)

// decryptionKeyUsage is the flag's help text.
const decryptionKeyUsage = "KEY[:PASSPHRASE]: a private key file that decrypts encrypted (ocicrypt) layers, as podman's; " +
	"PASSPHRASE is pass=TEXT, file=PATH or the text itself (repeatable: every key is tried)"

// decryptionKeys is the repeatable --decryption-key flag. It satisfies
// flag.Value and pflag.Value. Set only collects the specs: flag packages
// quote a value Set refuses, and a spec may hold a passphrase; keys parses
// them with messages that never do.
type decryptionKeys []string

// String lists the key files, never a passphrase.
func (d *decryptionKeys) String() string {
	var paths []string
	for _, spec := range *d {
		path, _, _ := strings.Cut(spec, ":")
		if form := passphrasePrefix(path); form != "" {
			path = form + "..." // a passphrase given without its key file
		}
		paths = append(paths, path)
	}
	return strings.Join(paths, ",")
}

// Set adds one KEY[:PASSPHRASE].
func (d *decryptionKeys) Set(spec string) error {
	*d = append(*d, spec)
	return nil
}

// keys parses every spec, for PullOptions.DecryptionKeys.
func (d *decryptionKeys) keys() ([]engine.DecryptionKey, error) {
	var keys []engine.DecryptionKey
	for _, spec := range *d {
		k, err := parseDecryptionKey(spec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Type names the value for pflag's help.
func (d *decryptionKeys) Type() string { return "key[:passphrase]" }

// parseDecryptionKey reads podman's KEY[:PASSPHRASE]: the key file's path
// up to the first colon (so the path holds none, as in podman), then the
// passphrase in one of ocicrypt's forms: "pass=TEXT", "file=PATH" (the
// file's content, without a final newline), or the text itself. The key
// file is read by the engine, which says whether it holds a key. Errors
// never quote the passphrase.
func parseDecryptionKey(spec string) (engine.DecryptionKey, error) {
	path, pass, hasPass := strings.Cut(spec, ":")
	switch {
	case path == "":
		return engine.DecryptionKey{}, errors.New("--decryption-key: the key file is missing (want KEY[:PASSPHRASE])")
	case path == "provider":
		return engine.DecryptionKey{}, errors.New("--decryption-key: key providers (provider:...) are not supported")
	case passphrasePrefix(path) != "":
		// "pass=SECRET" alone: a passphrase where the key file goes.
		form := passphrasePrefix(path)
		return engine.DecryptionKey{}, fmt.Errorf("--decryption-key: the key file is missing: %s... is the PASSPHRASE part (want KEY[:PASSPHRASE], e.g. key.pem:%s...)", form, form)
	case hasPass && pass == "":
		return engine.DecryptionKey{}, fmt.Errorf("--decryption-key %s: the passphrase after ':' is empty", path)
	}
	k := engine.DecryptionKey{Path: path}
	switch {
	case strings.HasPrefix(pass, "pass="):
		k.Passphrase = strings.TrimPrefix(pass, "pass=")
	case strings.HasPrefix(pass, "file="):
		b, err := os.ReadFile(strings.TrimPrefix(pass, "file="))
		if err != nil {
			return k, fmt.Errorf("--decryption-key %s: reading the passphrase file: %w", path, err)
		}
		k.Passphrase = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	case strings.HasPrefix(pass, "fd="):
		return k, fmt.Errorf("--decryption-key %s: fd= is not supported; use file=/dev/fd/N", path)
	default:
		k.Passphrase = pass
	}
	return k, nil
}

// passphrasePrefix returns the passphrase form ("pass=", "file=", "fd=")
// s starts with, or "".
func passphrasePrefix(s string) string {
	for _, form := range []string{"pass=", "file=", "fd="} {
		if strings.HasPrefix(s, form) {
			return form
		}
	}
	return ""
}
