package engine_test

import (
	"os"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	"go.podman.io/storage/pkg/reexec"
)

func TestMain(m *testing.M) {
	// Before reexec.Init, on purpose: the child plays a program that forgot it.
	if os.Getenv(noReexecChildEnv) != "" {
		os.Exit(noReexecChild())
	}
	if reexec.Init() {
		return
	}
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	enginetest.Main(m)
}
