package e2e

import (
	"io"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	"github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	// distribution logs every request through logrus' global logger. The
	// setting is process-wide, so containers/image's logs go too: acceptable
	// here, where the assertions are on results and request counts.
	logrus.SetOutput(io.Discard)
	enginetest.Main(m)
}
