package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// pullArgs are the flags of a CLI pull into a fresh store that trusts reg.
func pullArgs(t *testing.T, reg *enginetest.Registry) []string {
	t.Helper()
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	return []string{"pull", "--root", o.RootDir, "--runroot", o.RunDir, "--storage-driver", "vfs",
		"--registries-conf", o.RegistriesConfPath, "--authfile", o.AuthFilePath}
}

// pullengine pull --all-tags docker://HOST/REPO pulls every tag, as podman.
func TestCLIAllTagsDockerTransport(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	one := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	two := reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"})
	args := pullArgs(t, reg)

	code, out, errOut := runCLI(t, append(args, "--quiet", "--all-tags", "docker://"+reg.Host+"/team/app")...)
	if want := enginetest.ID(t, one) + "\n" + enginetest.ID(t, two) + "\n"; code != 0 || out != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want the IDs of both tags", code, out, errOut)
	}
	code, _, errOut = runCLI(t, append(args, "--all-tags", "docker://"+reg.Host+"/team/app:v1")...)
	if code != 1 || !strings.Contains(errOut, "must not carry a tag") || !strings.Contains(errOut, ": invalid argument: ") {
		t.Errorf("an explicit tag: exit %d, %q", code, errOut)
	}
}

// pullengine pull --decryption-key KEY[:PASSPHRASE] pulls an encrypted
// image; no key, a wrong key, and a file that is not a key fail with their
// kinds.
func TestCLIDecryptionKey(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	key, other := enginetest.NewEncryptionKey(t), enginetest.NewEncryptionKey(t)
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLayer(t, enginetest.Files{"secret": "42"}))
	reg.PushEncrypted(t, "team/secret:v1", img, key)
	name := reg.Host + "/team/secret:v1"
	args := pullArgs(t, reg)
	notAKey := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notAKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	layer := regexp.MustCompile(`layer sha256:[0-9a-f]{64} is encrypted`)

	for _, c := range []struct {
		what  string
		flags []string
		want  string
	}{
		{"no key", nil, "no decryption key was given"},
		{"a wrong key", []string{"--decryption-key", other.WritePrivateKey(t, "")}, "the decryption key given does not open it"},
	} {
		code, _, errOut := runCLI(t, append(append(args, c.flags...), name)...)
		if code != 1 || !strings.Contains(errOut, ": decryption failed: ") || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, name) || !layer.MatchString(errOut) {
			t.Errorf("%s: exit %d, stderr %q; want the kind and %q, naming %s and the layer", c.what, code, errOut, c.want, name)
		}
	}
	code, _, errOut := runCLI(t, append(args, "--decryption-key", notAKey, name)...)
	if code != 1 || !strings.Contains(errOut, notAKey+" is not a private key") || !strings.Contains(errOut, ": invalid argument: ") {
		t.Errorf("not a key: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, append(args, "--decryption-key", ":s3cret", name)...); code != 2 || strings.Contains(errOut, "s3cret") {
		t.Errorf("a malformed spec: exit %d, %q; want 2, without the passphrase", code, errOut)
	}

	locked := key.WritePrivateKey(t, "s3cret")
	code, out, errOut := runCLI(t, append(args, "--quiet", "--decryption-key", other.WritePrivateKey(t, ""), "--decryption-key", locked+":s3cret", name)...)
	if code != 0 || strings.TrimSpace(out) != enginetest.ID(t, img) || strings.Contains(errOut, "s3cret") {
		t.Errorf("with the key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// --decryption-key pass=SECRET (the key file left out) is refused as an
// argument error that says the key file is missing, and SECRET shows in no
// output mode (issue 22, 11).
func TestCLIDecryptionKeyPassphraseOnly(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	name := reg.Host + "/team/app:v1"
	const secret = "S3CRET-passphrase-cli-7f2e"
	args := pullArgs(t, reg)
	for _, spec := range []string{"pass=" + secret, "pass=" + secret + ":x", "file=" + secret} {
		for _, mode := range [][]string{nil, {"--json"}, {"--result"}, {"--quiet"}, {"--debug"}} {
			code, out, errOut := runCLI(t, append(append(append([]string{}, args...), mode...), "--decryption-key", spec, name)...)
			if strings.Contains(out+errOut, secret) {
				t.Errorf("%q %v: the passphrase shows: stdout %q, stderr %q", spec, mode, out, errOut)
			}
			if code != 2 || !strings.Contains(errOut, "the key file is missing") || !strings.Contains(errOut, "is the PASSPHRASE part") {
				t.Errorf("%q %v: exit %d, stderr %q; want 2, saying the key file is missing", spec, mode, code, errOut)
			}
			if n := reg.Requests.Total(); n != 0 {
				t.Errorf("%q %v: %d registry requests", spec, mode, n)
			}
		}
	}
}

// --result spells platforms as OCI does and the duration in nanoseconds.
func TestCLIResultJSON(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.PushImage(t, "team/arm:v7", enginetest.NewImage(t, enginetest.WithPlatform("linux", "arm", "v7")))
	code, out, errOut := runCLI(t, append(pullArgs(t, reg), "--result", "--platform", "linux/arm/v7", reg.Host+"/team/arm:v7")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Images []struct {
			Platform map[string]string `json:"platform"`
		} `json:"images"`
		Duration json.Number `json:"duration"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Images) != 1 {
		t.Fatalf("%s: %v", out, err)
	}
	if p := res.Images[0].Platform; len(p) != 3 || p["os"] != "linux" || p["architecture"] != "arm" || p["variant"] != "v7" {
		t.Errorf("platform %v; want OCI's os, architecture, variant", p)
	}
	if ns, err := res.Duration.Int64(); err != nil || ns <= 0 {
		t.Errorf("duration %q; want a positive count of nanoseconds", res.Duration)
	}
}
