package bench

import (
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// TestMain runs storage's re-exec hook (layer writes re-execute the test
// binary) and points CONTAINERS_CONF and CONTAINERS_STORAGE_CONF at empty
// files before anything reads them: libimage reads containers.conf once
// per process.
func TestMain(m *testing.M) { enginetest.Main(m) }
