package engine_test

import (
	"os"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	"go.podman.io/storage/pkg/reexec"
)

func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	enginetest.Main(m)
}
