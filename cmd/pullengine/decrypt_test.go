package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
)

// parseDecryptionKey reads podman's KEY[:PASSPHRASE] with ocicrypt's
// passphrase forms.
func TestParseDecryptionKey(t *testing.T) {
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec string
		want engine.DecryptionKey
	}{
		{"key.pem", engine.DecryptionKey{Path: "key.pem"}},
		{"/k/key.pem:s3cret", engine.DecryptionKey{Path: "/k/key.pem", Passphrase: "s3cret"}},
		{"key.pem:pass=s3cret", engine.DecryptionKey{Path: "key.pem", Passphrase: "s3cret"}},
		{"key.pem:pass=a:b", engine.DecryptionKey{Path: "key.pem", Passphrase: "a:b"}},
		{"key.pem:file=" + passFile, engine.DecryptionKey{Path: "key.pem", Passphrase: "from-file"}},
	} {
		got, err := parseDecryptionKey(c.spec)
		if err != nil || got.Path != c.want.Path || got.Passphrase != c.want.Passphrase || got.Key != nil {
			t.Errorf("%q: %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	for _, c := range []struct{ spec, want string }{
		{":s3cret", "the key file is missing"},
		{"key.pem:", "the passphrase after ':' is empty"},
		{"key.pem:fd=3", "use file=/dev/fd/N"},
		{"provider:attestation-agent", "key providers"},
		{"key.pem:file=" + passFile + ".gone", "reading the passphrase file"},
	} {
		_, err := parseDecryptionKey(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: %v; want an error saying %q, without the passphrase", c.spec, err, c.want)
		}
	}
}

// The flag is repeatable, keeps the order, and never shows a passphrase.
func TestDecryptionKeysFlag(t *testing.T) {
	var d decryptionKeys
	for _, spec := range []string{"a.pem:s3cret", "b.pem"} {
		if err := d.Set(spec); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := d.keys()
	if err != nil || len(keys) != 2 || keys[0].Path != "a.pem" || keys[0].Passphrase != "s3cret" || keys[1].Path != "b.pem" {
		t.Errorf("keys %+v, %v", keys, err)
	}
	if s := d.String(); s != "a.pem,b.pem" {
		t.Errorf("String() = %q", s)
	}
	bad := decryptionKeys{":s3cret"}
	if _, err := bad.keys(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad spec: %v", err)
	}
}
