package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestPullFixture(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	fixture := "oci-archive:../../testdata/hello.oci.tar"

	code, out, errOut := runCLI(t, "pull", "--root", root, "--storage-driver", "vfs", fixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "pulled "+fixture+" ") || !strings.Contains(out, "localhost/pullengine/hello:1.0") {
		t.Errorf("summary %q", out)
	}
	if !strings.Contains(errOut, "Copying blob") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	code, out, _ = runCLI(t, "pull", "--root", root, "--storage-driver", "vfs", "--quiet", "--policy", "never", "localhost/pullengine/hello:1.0")
	if code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Errorf("--quiet: exit %d, %q; want the image ID", code, out)
	}

	code, out, _ = runCLI(t, "pull", "--root", root, "--storage-driver", "vfs", "--result", "--policy", "never", "localhost/pullengine/hello:1.0")
	var res struct {
		Outcome string `json:"outcome"`
		Images  []struct{ ID string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Outcome != "used-local" || len(res.Images) != 1 {
		t.Errorf("--result: exit %d, %q", code, out)
	}

	code, out, _ = runCLI(t, "pull", "--root", root, "--storage-driver", "vfs", "--json", "--policy", "never", "localhost/pullengine/hello:1.0")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.Contains(lines[len(lines)-1], `"images"`) {
		t.Errorf("--json: exit %d, last line %q", code, lines[len(lines)-1])
	}
}

func TestPullErrorsAreClassified(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	code, _, errOut := runCLI(t, "pull", "--root", root, "--storage-driver", "vfs", "--policy", "never", "localhost/nothing:here")
	if code != 1 || !strings.Contains(errOut, "not-found, HTTP 404") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "pull", "--policy", "sometimes", "x"); code != 2 {
		t.Errorf("a bad policy exits %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "pull", "--platform", "linux/", "x"); code != 2 {
		t.Errorf("a bad platform exits %d, want 2", code)
	}
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no subcommand exits %d, want 2", code)
	}
}
