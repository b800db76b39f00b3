package engine

import (
	"testing"

	"go.podman.io/image/v5/types"
)

// TempDir names the private directory while there is one, and the
// caller's BigFilesTemporaryDir (never the store's tmp) when New could not
// make one: a caller's temporary files go where it asked.
func TestTempDirFallsBackToBigFilesDir(t *testing.T) {
	e := &Engine{sys: types.SystemContext{BigFilesTemporaryDir: "/big"}, tmpDir: "/big/pullengine-1"}
	if got := e.TempDir(); got != "/big/pullengine-1" {
		t.Errorf("with a private directory: TempDir %q", got)
	}
	e.tmpDir = ""
	if got := e.TempDir(); got != "/big" {
		t.Errorf("without one: TempDir %q, want the BigFilesTemporaryDir %q", got, "/big")
	}
}
