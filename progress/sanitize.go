package progress

import (
	"strings"

	"github.com/pullengine/pullengine/internal/safetext"
)

// Sanitize makes text safe to print on a terminal by dropping what is not:
// control characters (ESC, BEL, CR, backspace, the C1 range, DEL ...) and
// bidirectional overrides are removed, so text from a registry, an
// archive or an error message cannot move the cursor, retitle the window,
// hide earlier lines or reorder what is shown; line breaks and tabs become spaces, so one
// message stays one line; invalid UTF-8 becomes U+FFFD. The characters are
// those pullerrors escapes (as \x1b, \u202e, ...) in error messages.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unsafe(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unsafe is safetext.Unsafe, with tabs (which would misalign a terminal's
// columns) and without U+FFFD (which ToValidUTF8 put there to be seen).
func unsafe(r rune) bool {
	return r == '\t' || (r != '\uFFFD' && safetext.Unsafe(r))
}
