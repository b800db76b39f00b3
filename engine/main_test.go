package engine_test

import (
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }
