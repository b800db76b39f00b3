package safetext

import "testing"

// A cut never ends inside a UTF-8 sequence, and Clip says how much it left out.
func TestPrefixAndClip(t *testing.T) {
	for _, tc := range []struct {
		s       string
		n       int
		prefix  string
		clipped string
	}{
		{"abc", 5, "abc", "abc"},
		{"abc", 3, "abc", "abc"},
		{"abcdef", 3, "abc", "abc…(3 more bytes)"},
		{"aé", 2, "a", "a…(2 more bytes)"}, // é is 2 bytes: not split
		{"€x", 2, "", "…(4 more bytes)"},
		{"abc", -1, "", "…(3 more bytes)"},
	} {
		if got := Prefix(tc.s, tc.n); got != tc.prefix {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.prefix)
		}
		if got := Clip(tc.s, tc.n); got != tc.clipped {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.clipped)
		}
	}
}
