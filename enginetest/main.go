package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.podman.io/storage/pkg/reexec"
)

// Main runs the tests of a package that pulls into a store. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { enginetest.Main(m) }
//
// It runs containers/storage's re-exec hook first (layer writes re-execute
// the test binary; without it they panic). An unprivileged process is
// re-executed as root in a user namespace, as rootless Podman runs (see
// enterUserNamespace); if none can be made, Main says what is missing and
// exits. It points CONTAINERS_CONF and CONTAINERS_STORAGE_CONF at empty
// files, so no test reads the host's /etc/containers.
func Main(m *testing.M) {
	if reexec.Init() {
		return
	}
	if err := enterUserNamespace(); err != nil {
		fmt.Fprintln(os.Stderr, "enginetest:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "enginetest-conf-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "enginetest:", err)
		os.Exit(2)
	}
	for env, file := range map[string]string{"CONTAINERS_CONF": "containers.conf", "CONTAINERS_STORAGE_CONF": "storage.conf"} {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "enginetest:", err)
			os.Exit(2)
		}
		os.Setenv(env, path)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
