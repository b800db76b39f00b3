package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pullerrors "github.com/pullengine/pullengine/errors"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Policy
	}{
		{"", Default}, {"default", Default}, {"  ", Default},
		{"always", Always}, {"alWays", Always}, {"ALWAYS", Always}, {"true", Always}, {"TRUE", Always},
		{"missing", Missing}, {"MISSING", Missing}, {"ifmissing", Missing}, {"IFMISSING", Missing}, {"ifnotpresent", Missing}, {"IfNotPresent", Missing},
		{"newer", Newer}, {"ifnewer", Newer}, {"NEWER", Newer},
		{"never", Never}, {"NEVER", Never}, {"false", Never}, {" never ", Never},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseRejectsUnknownWords(t *testing.T) {
	for _, in := range []string{"bogus", "yes", "1", "always!", "pull"} {
		_, err := Parse(in)
		if !errors.Is(err, pullerrors.ErrInvalidArgument) {
			t.Errorf("Parse(%q): error %v does not wrap ErrInvalidArgument", in, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) || !strings.Contains(err.Error(), "ifnotpresent") {
			t.Errorf("Parse(%q): message %q should name the input and the accepted spellings", in, err)
		}
	}
}

func TestStringRoundTrips(t *testing.T) {
	for _, p := range []Policy{Default, Always, Missing, Newer, Never} {
		got, err := Parse(p.String())
		if err != nil || got != p {
			t.Errorf("Parse(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
		text, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Policy
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("text round trip of %v gave %v, %v", p, back, err)
		}
	}
	if err := Policy(42).Validate(); !errors.Is(err, pullerrors.ErrInvalidArgument) {
		t.Errorf("Policy(42).Validate() = %v, want ErrInvalidArgument", err)
	}
	if _, err := Policy(-1).MarshalText(); err == nil {
		t.Error("MarshalText of an invalid policy succeeded")
	}
}

// FuzzParse: any input parses to a valid policy or fails with
// InvalidArgument; never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "always", "IfNotPresent", "false", "bogus", "\x00", " newer "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !errors.Is(err, pullerrors.ErrInvalidArgument) {
				t.Fatalf("Parse(%q): unclassified error %v", s, err)
			}
			return
		}
		if p.Validate() != nil {
			t.Fatalf("Parse(%q) = invalid %v", s, p)
		}
		if back, err := Parse(p.String()); err != nil || back != p {
			t.Fatalf("%v does not round-trip", p)
		}
	})
}
