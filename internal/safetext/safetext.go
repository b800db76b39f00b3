// Package safetext makes untrusted text (a registry's error, an image
// name, an archive's annotation) safe to repeat in an error message, a log
// line, a progress event or an HTTP answer: it says which characters must
// not reach a terminal as they are (Unsafe) and escapes them (Escape),
// removes credentials (Redact), and clips over-long text on a character
// boundary (Prefix, Clip, Truncate). pullerrors escapes unsafe characters
// in messages; the progress renderers drop them. One rule, so a character
// that is harmless in one place is harmless in the other.
package safetext

import (
	"strconv"
	"unicode/utf8"
)

// Unsafe reports whether r must not be printed as is: C0 controls other
// than tab (ESC, BEL, CR, LF, ...), DEL, C1 controls (U+0080-U+009F, with
// the 8-bit CSI U+009B), the Unicode line and paragraph separators, and the
// bidirectional embeddings, overrides and isolates, which reorder what a
// reader sees. utf8.RuneError is listed so that callers look at invalid
// bytes.
func Unsafe(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029, // line and paragraph separators
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, // bidi embeddings, overrides, isolates
		r == utf8.RuneError:
		return true
	}
	return false
}

// Prefix returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence: every clipper of untrusted text (error
// messages, echoed references, log values) cuts here, so a cut never
// leaves half a character for a terminal or a JSON encoder to mangle.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Clip returns s when it is at most n bytes, else its Prefix of n bytes
// followed by how much was left out ("…(123 more bytes)").
func Clip(s string, n int) string {
	head := Prefix(s, n)
	if len(head) == len(s) {
		return s
	}
	return head + "…(" + strconv.Itoa(len(s)-len(head)) + " more bytes)"
}
