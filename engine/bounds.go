package engine

import (
	"log/slog"

	"github.com/pullengine/pullengine/internal/safetext"
)

// errAttr is an error as a log attribute value: its text redacted, without
// control characters and cut at safetext.MaxErrorText, so that a
// registry's words can neither flood a log nor forge lines or escape
// sequences in it.
func errAttr(err error) slog.Value {
	if err == nil {
		return slog.StringValue("<nil>")
	}
	return slog.StringValue(safetext.Clean(err.Error(), safetext.MaxErrorText))
}
