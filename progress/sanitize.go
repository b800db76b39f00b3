package progress

import (
	"strings"
	"unicode"
)

// Sanitize makes text safe to print on a terminal: control characters
// (ESC, BEL, CR, backspace, the C1 range, DEL ...) are dropped, so text
// from a registry, an archive or an error message cannot move the cursor,
// retitle the window or hide earlier lines; line breaks and tabs become
// spaces, so one message stays one line; invalid UTF-8 becomes U+FFFD.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unicode.IsControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
