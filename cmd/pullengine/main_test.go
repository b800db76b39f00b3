package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// cliEnv makes the test binary run as the pullengine command: the same
// main(), with Init first, exit codes and real file descriptors, so the
// tests drive the CLI as a user's shell does.
const cliEnv = "PULLENGINE_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		main()
		return
	}
	if ref := os.Getenv(bareSourceEnv); ref != "" {
		openBareSource(ref) // errors_test.go
		return
	}
	enginetest.Main(m)
}

// cliCommand returns the command that runs the CLI with args.
func cliCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), cliEnv+"=1"), env...)
	return cmd
}

// cli runs the CLI binary and returns its exit code and output.
func cli(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cliCommand(t, env, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatalf("running the CLI: %v", err)
	}
	return 0, out.String(), errOut.String()
}

// runCLI runs the CLI binary with the test's environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cli(t, nil, args...)
}

func TestPullFixture(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	store := []string{"--root", root, "--runroot", root + "-run", "--storage-driver", "vfs"}
	fixture := "oci-archive:../../testdata/hello.oci.tar"

	code, out, errOut := runCLI(t, append([]string{"pull"}, append(store, fixture)...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "pulled "+fixture+" ") || !strings.Contains(out, "localhost/pullengine/hello:1.0") {
		t.Errorf("summary %q", out)
	}
	if !strings.Contains(errOut, "Copying blob") || !strings.Contains(errOut, "Pulled localhost/pullengine/hello:1.0") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	// Flags after NAME, podman's -q.
	code, out, _ = runCLI(t, append([]string{"pull", "localhost/pullengine/hello:1.0", "-q", "--policy", "never"}, store...)...)
	if code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Errorf("-q: exit %d, %q; want the image ID", code, out)
	}

	// Nothing pulled: the output says so, and no "Pulled ... 0 B".
	code, out, errOut = runCLI(t, append([]string{"pull", "--pull", "missing", "localhost/pullengine/hello:1.0"}, store...)...)
	if code != 0 || !strings.HasPrefix(out, "used-local ") || !strings.Contains(errOut, "Using local image localhost/pullengine/hello:1.0") || strings.Contains(errOut, "Pulled") {
		t.Errorf("used-local: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, _ = runCLI(t, append([]string{"pull", "--result", "--policy", "never", "localhost/pullengine/hello:1.0"}, store...)...)
	var res struct {
		Outcome string `json:"outcome"`
		Images  []struct{ ID string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Outcome != "used-local" || len(res.Images) != 1 {
		t.Errorf("--result: exit %d, %q", code, out)
	}

	code, out, _ = runCLI(t, append([]string{"pull", "--json", "--policy", "never", "localhost/pullengine/hello:1.0"}, store...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.Contains(lines[len(lines)-1], `"images"`) {
		t.Errorf("--json: exit %d, last line %q", code, lines[len(lines)-1])
	}
}

// An error is printed once, in words, without an HTTP status for what is
// not HTTP.
func TestPullErrorPrintedOnce(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	for _, extra := range [][]string{nil, {"-q"}, {"--result"}} {
		args := append([]string{"pull", "--root", root, "--runroot", root + "-run", "--storage-driver", "vfs", "--policy", "never", "localhost/nothing:here"}, extra...)
		code, out, errOut := runCLI(t, args...)
		if code != 1 || strings.Count(errOut, "Error:") != 1 || !strings.Contains(errOut, "localhost/nothing:here") || strings.Contains(errOut, "HTTP") || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one error line", extra, code, out, errOut)
		}
	}
	code, _, errOut := runCLI(t, "pull", "--root", root, "--runroot", root+"-run", "--storage-driver", "vfs", "oci-archive:/nonexistent/x.tar")
	if code != 1 || strings.Count(errOut, "Error:") != 1 || strings.Contains(errOut, "HTTP 404") {
		t.Errorf("a missing archive: exit %d, stderr %q", code, errOut)
	}
}

// Argument errors exit 2 and say why.
func TestPullArgumentErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"pull"}, "exactly one NAME is needed"},
		{[]string{"pull", "a", "b"}, "exactly one NAME is needed"},
		{[]string{"pull", "--policy", "sometimes", "x"}, "sometimes"},
		{[]string{"pull", "--platform", "linux/", "x"}, "linux/"},
		{[]string{"pull", "--bogus", "x"}, "unknown flag: --bogus"},
		{[]string{"pull", "--json", "-q", "x"}, "--json and --quiet choose different outputs"},
		{[]string{"pull", "--result", "--json", "x"}, "--json and --result choose different outputs"},
		{[]string{"pull", "--policy", "always", "--pull", "never", "x"}, "disagree"},
		{[]string{"pull", "--platform", "linux/arm64", "--arch", "amd64", "x"}, "--platform cannot be combined"},
		{[]string{"pull", "--retry-delay", "soon", "x"}, `--retry-delay "soon"`},
		{[]string{"pull", "--retry", "-1", "x"}, "--retry"},
		{[]string{"pull", "--creds", "alice", "x"}, "stdin is not a terminal"},
		{[]string{"pull", "../../testdata/hello.oci.tar"}, "pull it as oci-archive:../../testdata/hello.oci.tar"},
		{[]string{"pull", "../../testdata"}, "pull it as oci:../../testdata"},
	}
	for _, tc := range tests {
		code, out, errOut := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "See 'pullengine pull --help'") || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	for _, args := range [][]string{nil, {"frobnicate"}} {
		if code, _, errOut := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"pull", "--help"}, {"pull", "-h"}, {"pull", "x", "--help"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Usage: pullengine pull") || !strings.Contains(out, "-a, --all-tags") || !strings.Contains(out, "--signature-policy") {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}} {
		if code, out, _ := runCLI(t, args...); code != 0 || !strings.Contains(out, "pullengine pull") {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
	}
	for _, args := range [][]string{{"--version"}, {"pull", "--version"}} {
		if code, out, _ := runCLI(t, args...); code != 0 || !strings.HasPrefix(out, "pullengine version ") {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
	}
}
