package safetext

import (
	"strings"
	"testing"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 30), 20, strings.Repeat("a", 20-len(TruncatedSuffix)) + TruncatedSuffix},
		// never cut inside a rune: "é" is 2 bytes
		{"x" + strings.Repeat("é", 20), 1 + len(TruncatedSuffix) + 2, "xé" + TruncatedSuffix},
	} {
		if got := Truncate(tc.in, tc.limit); got != tc.want || len(got) > max(tc.limit, len(tc.in)) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tabs\tand ünïcode", "plain text, tabs\tand ünïcode"},
		{"\x1b[2J\x1b]0;owned\x07", `\x1b[2J\x1b]0;owned\a`},
		{"cr\rlf\n", `cr\rlf\n`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"del\x7f", `del\x7f`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"bad \xff utf8", `bad \xff utf8`},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
