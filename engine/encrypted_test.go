package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

var encryptedLayerText = regexp.MustCompile(`layer sha256:[0-9a-f]{64} is encrypted`)

// An image encrypted for a key pulls with that key (as a file or as bytes
// with a passphrase), and fails with a Decryption error that names the
// layer and the image without a key or with another key, once: the error
// is not retried, and nothing is stored.
func TestEncryptedImage(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	key, other := enginetest.NewEncryptionKey(t), enginetest.NewEncryptionKey(t)
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLayer(t, enginetest.Files{"secret": "42"}))
	reg.PushEncrypted(t, "team/secret:v1", img, key)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	name := reg.Host + "/team/secret:v1"
	three := 3

	for _, c := range []struct {
		what string
		keys []engine.DecryptionKey
		want string
	}{
		{"no key", nil, "no decryption key was given"},
		{"another key", []engine.DecryptionKey{{Path: other.WritePrivateKey(t, "")}}, "the decryption key given does not open it"},
		{"two other keys", []engine.DecryptionKey{{Key: other.PrivateKeyPEM(t, "")}, {Key: enginetest.NewEncryptionKey(t).PrivateKeyPEM(t, "")}},
			"none of the 2 decryption keys given opens it"},
	} {
		reg.Requests.Reset()
		_, err := e.Pull(ctx, name, policy.Always, &engine.PullOptions{DecryptionKeys: c.keys, MaxRetries: &three})
		if pullerrors.Classify(err) != pullerrors.Decryption || pullerrors.HTTPStatus(err) != 422 || pullerrors.Retryable(err) {
			t.Fatalf("%s: %v (%s, %d); want decryption, 422, not retryable", c.what, err, pullerrors.Classify(err), pullerrors.HTTPStatus(err))
		}
		if msg := err.Error(); !strings.Contains(msg, name) || !encryptedLayerText.MatchString(msg) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q; want one line naming %s, the layer, and %q", c.what, msg, name, c.want)
		}
		if n := reg.Requests.Count(enginetest.ManifestGet); n != 1 {
			t.Errorf("%s: %d manifest GETs; want 1 (a decryption error is not retried)", c.what, n)
		}
	}
	if _, err := e.Pull(ctx, name, policy.Never, nil); !errors.Is(err, storage.ErrImageUnknown) {
		t.Errorf("after the failed pulls, the image is in the store: %v", err)
	}

	res, err := e.Pull(ctx, name, policy.Always, &engine.PullOptions{DecryptionKeys: []engine.DecryptionKey{
		{Key: other.PrivateKeyPEM(t, "")}, // tried, and does not open it
		{Key: key.PrivateKeyPEM(t, "s3cret"), Passphrase: "s3cret"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The store checked the decrypted layers against the config's DiffIDs.
	if res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("pulled %+v; want image %s", res, enginetest.ID(t, img))
	}

	res, err = e.Pull(ctx, name, policy.Always, &engine.PullOptions{DecryptionKeys: []engine.DecryptionKey{{Path: key.WritePrivateKey(t, "")}}})
	if err != nil || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("with the key file: %+v, %v", res, err)
	}
}

// Keys are checked before anything is fetched: a file that is not a
// private key, a missing or wrong passphrase, an unreadable path are
// invalid arguments, and messages never hold a passphrase or key bytes.
func TestDecryptionKeyErrors(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	key := enginetest.NewEncryptionKey(t)
	notAKey := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notAKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := key.WritePrivateKey(t, "right-passphrase")

	for _, c := range []struct {
		what string
		key  engine.DecryptionKey
		want string
	}{
		{"not a key file", engine.DecryptionKey{Path: notAKey}, notAKey + " is not a private key"},
		{"not key bytes", engine.DecryptionKey{Key: []byte("hello")}, "decryption key 1 (bytes) is not a private key"},
		{"a public key", engine.DecryptionKey{Key: key.PublicKeyPEM(t)}, "is not a private key"},
		{"no passphrase", engine.DecryptionKey{Path: locked}, "the passphrase is missing or wrong"},
		{"wrong passphrase", engine.DecryptionKey{Path: locked, Passphrase: "wrong-passphrase"}, "the passphrase is missing or wrong"},
		{"a missing file", engine.DecryptionKey{Path: notAKey + ".gone"}, "no such file"},
		{"path and bytes", engine.DecryptionKey{Path: locked, Key: []byte("x")}, "both a path and bytes"},
		// podman's --decryption-key pass=SECRET, without the key file
		// (issue 22, 11): neither opened nor quoted.
		{"a passphrase as the path", engine.DecryptionKey{Path: "pass=wrong-passphrase"}, "decryption key 1: the key file's path is missing: its path is a passphrase (pass=...)"},
		{"a passphrase file as the path", engine.DecryptionKey{Path: "file=wrong-passphrase"}, "its path is a passphrase (file=...)"},
	} {
		reg.Requests.Reset()
		_, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Always, &engine.PullOptions{DecryptionKeys: []engine.DecryptionKey{c.key}})
		if pullerrors.Classify(err) != pullerrors.InvalidArgument || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want invalid-argument saying %q", c.what, err, c.want)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "wrong-passphrase") || strings.Contains(msg, "right-passphrase") || strings.Contains(msg, "PRIVATE KEY") {
			t.Errorf("%s: the message leaks key material: %q", c.what, msg)
		}
		for _, secret := range []string{"wrong-passphrase", "right-passphrase", "PRIVATE KEY"} {
			assertNotInChain(t, err, secret)
		}
		if n := reg.Requests.Total(); n != 0 {
			t.Errorf("%s: %d registry requests; want none", c.what, n)
		}
	}
}

// Concurrent pulls of one image with different decryption keys do not share
// a transfer: the one with the key gets the image, the one without fails.
func TestEncryptedPullsWithOtherKeysDoNotShare(t *testing.T) {
	g := newGate()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(g.middleware))
	key := enginetest.NewEncryptionKey(t)
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLayer(t, enginetest.Files{"secret": "42"}))
	reg.PushEncrypted(t, "team/secret:v1", img, key)
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	name := reg.Host + "/team/secret:v1"

	var wg sync.WaitGroup
	var keyless, keyed error
	var res *engine.Result
	wg.Go(func() { _, keyless = e.Pull(context.Background(), name, policy.Always, nil) })
	waitFor(t, "the pull without a key to start its transfer", func() bool { return e.FlightWaiters() == 1 })
	wg.Go(func() {
		res, keyed = e.Pull(context.Background(), name, policy.Always, &engine.PullOptions{
			DecryptionKeys: []engine.DecryptionKey{{Key: key.PrivateKeyPEM(t, "")}}})
	})
	waitFor(t, "the pull with the key to reach the transfers", func() bool { return e.FlightWaiters() == 2 })
	if n := e.FlightsRunning(); n != 2 {
		t.Errorf("%d transfers for two pulls with other keys; want 2", n)
	}
	g.open()
	wg.Wait()
	if pullerrors.Classify(keyless) != pullerrors.Decryption {
		t.Errorf("without a key: %v; want a decryption error", keyless)
	}
	if keyed != nil || res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("with the key: %+v, %v", res, keyed)
	}
}
