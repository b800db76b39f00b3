package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
)

// cliStore is a hermetic store and configuration for the CLI: the flags
// that point the CLI at it, and the environment it runs with.
type cliStore struct {
	opts  engine.Options
	flags []string
	env   []string
}

func newCLIStore(t *testing.T, reg *enginetest.Registry) cliStore {
	t.Helper()
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	return cliStore{
		opts: o,
		flags: []string{"--root", o.RootDir, "--runroot", o.RunDir, "--storage-driver", "vfs",
			"--registries-conf", o.RegistriesConfPath, "--signature-policy", o.SignaturePolicyPath, "--authfile", o.AuthFilePath},
		env: []string{"CONTAINERS_CONF=" + o.ContainersConfPath},
	}
}

func (s cliStore) pull(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cli(t, s.env, append(append([]string{"pull"}, args...), s.flags...)...)
}

// Retries are shown as they happen, in the terminal output and in the
// JSON lines; --retry and --retry-delay are podman's.
func TestPullShowsRetries(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.FailWith(enginetest.Kind(enginetest.ManifestGet), 2, http.StatusServiceUnavailable, "UNAVAILABLE", "try later"))
	reg.Push(t, "team/app:1", enginetest.Files{"a": "1"})
	s := newCLIStore(t, reg)
	code, out, errOut := s.pull(t, reg.Host+"/team/app:1", "--retry", "3", "--retry-delay", "10ms")
	if code != 0 || !strings.HasPrefix(out, "pulled ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, want := range []string{"Failed, retrying in 10ms ... (1/3). Error: ", "Failed, retrying in 10ms ... (2/3). Error: ", "503"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	reg2 := enginetest.NewRegistry(t, enginetest.FailWith(enginetest.Kind(enginetest.ManifestGet), 1, http.StatusServiceUnavailable, "UNAVAILABLE", "try later"))
	reg2.Push(t, "team/app:1", enginetest.Files{"a": "1"})
	s2 := newCLIStore(t, reg2)
	code, out, _ = s2.pull(t, reg2.Host+"/team/app:1", "--json", "--retry-delay", "10ms")
	if code != 0 || !strings.Contains(out, `{"status":"pulling","stream":"Failed, retrying in 10ms ... (1/3). Error: `) {
		t.Errorf("--json: exit %d, no retry line:\n%s", code, out)
	}
}

// The registry's error is shown on a local fallback; an unchanged image is
// "up to date", not "Pulled".
func TestPullNewerOutcomes(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:1", enginetest.Files{"a": "1"})
	s := newCLIStore(t, reg)
	ref := reg.Host + "/team/app:1"
	if code, _, errOut := s.pull(t, ref); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, out, errOut := s.pull(t, ref, "--policy", "newer")
	if code != 0 || !strings.HasPrefix(out, "up-to-date ") || !strings.Contains(errOut, "is up to date") || strings.Contains(errOut, "Pulled") {
		t.Errorf("newer, unchanged: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	reg.Down()
	code, out, errOut = s.pull(t, ref, "--policy", "newer", "--retry", "0")
	if code != 0 || !strings.HasPrefix(out, "local-fallback ") ||
		!strings.Contains(errOut, "WARNING: the registry could not be checked for a newer image") || !strings.Contains(errOut, reg.Host) {
		t.Errorf("newer, registry down: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// -a, --arch/--os, bool --tls-verify (bare form), --signature-policy and
// --storage-opt reach the engine.
func TestPullPodmanFlags(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:1", enginetest.Files{"a": "1"})
	reg.Push(t, "team/app:2", enginetest.Files{"a": "2"})
	reg.PushIndex(t, "team/multi:1",
		enginetest.NewImage(t, enginetest.WithPlatform("linux", "amd64", "")),
		enginetest.NewImage(t, enginetest.WithPlatform("linux", "arm64", ""), enginetest.WithLayer(t, enginetest.Files{"arm": "64"})))
	s := newCLIStore(t, reg)

	code, out, errOut := s.pull(t, "-a", reg.Host+"/team/app", "-q")
	if code != 0 || len(strings.Fields(out)) != 2 {
		t.Errorf("-a: exit %d, stdout %q, stderr %q; want two IDs", code, out, errOut)
	}

	code, out, errOut = s.pull(t, reg.Host+"/team/multi:1", "--arch", "arm64", "--os", "linux", "--result")
	var res struct {
		Images []struct {
			Platform struct {
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"images"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Images) != 1 {
		t.Fatalf("--arch: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := res.Images[0].Platform.Architecture; got != "arm64" {
		t.Errorf("--arch arm64 pulled %q: %s", got, out)
	}

	// The registry speaks plain HTTP (registries.conf says insecure): the
	// bare --tls-verify turns verification on and fails, =false works.
	if code, _, errOut := s.pull(t, reg.Host+"/team/app:1", "--tls-verify", "--policy", "always", "--retry", "0"); code != 1 || !strings.Contains(errOut, "Error:") {
		t.Errorf("--tls-verify: exit %d, stderr %q; want a failure", code, errOut)
	}
	if code, _, errOut := s.pull(t, reg.Host+"/team/app:1", "--tls-verify=false", "--policy", "always"); code != 0 {
		t.Errorf("--tls-verify=false: exit %d, stderr %q", code, errOut)
	}

	reject := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(reject, []byte(`{"default":[{"type":"reject"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The last --signature-policy wins (the store's flags come after).
	flags := append([]string{}, s.flags...)
	for i, f := range flags {
		if f == "--signature-policy" {
			flags[i+1] = reject
		}
	}
	rejecting := cliStore{flags: flags, env: s.env}
	if code, _, errOut := rejecting.pull(t, reg.Host+"/team/app:1", "--policy", "always"); code != 1 || !strings.Contains(errOut, "reject") {
		t.Errorf("--signature-policy reject: exit %d, stderr %q", code, errOut)
	}

	if code, _, errOut := s.pull(t, reg.Host+"/team/app:1", "--storage-opt", "vfs.bogus_option=1"); code != 1 || !strings.Contains(errOut, "bogus_option") {
		t.Errorf("--storage-opt: exit %d, stderr %q; want the driver to refuse the option", code, errOut)
	}
}
