package enginetest_test

import (
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// NewEngine's store uses the driver DefaultDriver chose, and a fallback to
// vfs comes with a reason; WithDriver still overrides it.
func TestDefaultDriver(t *testing.T) {
	driver, reason := enginetest.DefaultDriver()
	t.Logf("default driver %s: %s", driver, reason)
	if driver != "overlay" && driver != "vfs" || reason == "" {
		t.Errorf("DefaultDriver() = %q, %q", driver, reason)
	}
	if got := enginetest.NewEngine(t).Store().GraphDriverName(); got != driver {
		t.Errorf("NewEngine's store uses %s, DefaultDriver says %s", got, driver)
	}
	if got := enginetest.NewEngine(t, enginetest.WithDriver("vfs")).Store().GraphDriverName(); got != "vfs" {
		t.Errorf("WithDriver(vfs): store uses %s", got)
	}
}
