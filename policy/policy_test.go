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

func TestEffective(t *testing.T) {
	cases := []struct {
		p          Policy
		custom     bool
		want       Policy
		wantReason bool
	}{
		{Default, false, Missing, false},
		{Default, true, Newer, true},
		{Missing, false, Missing, false},
		{Missing, true, Newer, true},
		{Newer, true, Newer, false},
		{Always, true, Always, false},
		{Never, true, Never, false},
	}
	for _, c := range cases {
		got, reason := Effective(c.p, c.custom)
		if got != c.want || (reason != "") != c.wantReason {
			t.Errorf("Effective(%v, %v) = %v, %q; want %v, reason=%v", c.p, c.custom, got, reason, c.want, c.wantReason)
		}
	}
}

// TestDecide covers every cell: 5 policies × found × corrupted × byID ×
// customPlatform, each written out with its answer (y: true, n: false).
// The table is the answer key; nothing in it is computed. Reading it: a
// corrupted image counts as absent; never uses a usable local image or
// fails; always pulls but refuses an ID; missing (and default) uses a
// usable local image, and asks the registry (pull-if-newer) instead when a
// platform is given, except by ID; newer asks the registry when a usable
// image exists, except by ID; an ID never goes to a registry.
func TestDecide(t *testing.T) {
	const y, n = true, false
	cells := []struct {
		p                              Policy
		found, corrupted, byID, custom bool
		want                           Action
	}{
		// Never
		{Never, n, n, n, n, FailNotLocal},
		{Never, n, n, n, y, FailNotLocal},
		{Never, n, n, y, n, FailNotLocal},
		{Never, n, n, y, y, FailNotLocal},
		{Never, n, y, n, n, FailNotLocal},
		{Never, n, y, n, y, FailNotLocal},
		{Never, n, y, y, n, FailNotLocal},
		{Never, n, y, y, y, FailNotLocal},
		{Never, y, n, n, n, UseLocal},
		{Never, y, n, n, y, UseLocal},
		{Never, y, n, y, n, UseLocal},
		{Never, y, n, y, y, UseLocal},
		{Never, y, y, n, n, FailNotLocal},
		{Never, y, y, n, y, FailNotLocal},
		{Never, y, y, y, n, FailNotLocal},
		{Never, y, y, y, y, FailNotLocal},
		// Always
		{Always, n, n, n, n, Pull},
		{Always, n, n, n, y, Pull},
		{Always, n, n, y, n, FailAlwaysByID},
		{Always, n, n, y, y, FailAlwaysByID},
		{Always, n, y, n, n, Pull},
		{Always, n, y, n, y, Pull},
		{Always, n, y, y, n, FailAlwaysByID},
		{Always, n, y, y, y, FailAlwaysByID},
		{Always, y, n, n, n, Pull},
		{Always, y, n, n, y, Pull},
		{Always, y, n, y, n, FailAlwaysByID},
		{Always, y, n, y, y, FailAlwaysByID},
		{Always, y, y, n, n, Pull},
		{Always, y, y, n, y, Pull},
		{Always, y, y, y, n, FailAlwaysByID},
		{Always, y, y, y, y, FailAlwaysByID},
		// Missing
		{Missing, n, n, n, n, Pull},
		{Missing, n, n, n, y, Pull},
		{Missing, n, n, y, n, FailNotLocal},
		{Missing, n, n, y, y, FailNotLocal},
		{Missing, n, y, n, n, Pull},
		{Missing, n, y, n, y, Pull},
		{Missing, n, y, y, n, FailNotLocal},
		{Missing, n, y, y, y, FailNotLocal},
		{Missing, y, n, n, n, UseLocal},
		{Missing, y, n, n, y, PullIfNewer},
		{Missing, y, n, y, n, UseLocal},
		{Missing, y, n, y, y, UseLocal},
		{Missing, y, y, n, n, Pull},
		{Missing, y, y, n, y, Pull},
		{Missing, y, y, y, n, FailNotLocal},
		{Missing, y, y, y, y, FailNotLocal},
		// Default
		{Default, n, n, n, n, Pull},
		{Default, n, n, n, y, Pull},
		{Default, n, n, y, n, FailNotLocal},
		{Default, n, n, y, y, FailNotLocal},
		{Default, n, y, n, n, Pull},
		{Default, n, y, n, y, Pull},
		{Default, n, y, y, n, FailNotLocal},
		{Default, n, y, y, y, FailNotLocal},
		{Default, y, n, n, n, UseLocal},
		{Default, y, n, n, y, PullIfNewer},
		{Default, y, n, y, n, UseLocal},
		{Default, y, n, y, y, UseLocal},
		{Default, y, y, n, n, Pull},
		{Default, y, y, n, y, Pull},
		{Default, y, y, y, n, FailNotLocal},
		{Default, y, y, y, y, FailNotLocal},
		// Newer
		{Newer, n, n, n, n, Pull},
		{Newer, n, n, n, y, Pull},
		{Newer, n, n, y, n, FailNotLocal},
		{Newer, n, n, y, y, FailNotLocal},
		{Newer, n, y, n, n, Pull},
		{Newer, n, y, n, y, Pull},
		{Newer, n, y, y, n, FailNotLocal},
		{Newer, n, y, y, y, FailNotLocal},
		{Newer, y, n, n, n, PullIfNewer},
		{Newer, y, n, n, y, PullIfNewer},
		{Newer, y, n, y, n, UseLocal},
		{Newer, y, n, y, y, UseLocal},
		{Newer, y, y, n, n, Pull},
		{Newer, y, y, n, y, Pull},
		{Newer, y, y, y, n, FailNotLocal},
		{Newer, y, y, y, y, FailNotLocal},
	}
	if len(cells) != 5*16 {
		t.Fatalf("the table has %d cells, want 80", len(cells))
	}
	seen := map[string]bool{}
	for _, c := range cells {
		key := fmt.Sprint(c.p, c.found, c.corrupted, c.byID, c.custom)
		if seen[key] {
			t.Fatalf("cell %s appears twice", key)
		}
		seen[key] = true
		if got := Decide(c.p, c.found, c.corrupted, c.byID, c.custom); got != c.want {
			t.Errorf("Decide(%v, found=%v, corrupted=%v, byID=%v, custom=%v) = %v; want %v",
				c.p, c.found, c.corrupted, c.byID, c.custom, got, c.want)
		}
	}
}

// A few cells spelled out with the rule each one shows, so a reader sees the
// rules without reading the table above.
func TestDecideDesignRules(t *testing.T) {
	rules := []struct {
		name                           string
		p                              Policy
		found, corrupted, byID, custom bool
		want                           Action
	}{
		{"a corrupted image counts as absent under missing", Missing, true, true, false, false, Pull},
		{"a corrupted image counts as absent under never", Never, true, true, false, false, FailNotLocal},
		{"never with a custom platform stays never", Never, true, false, false, true, UseLocal},
		{"a custom platform turns missing into newer", Missing, true, false, false, true, PullIfNewer},
		{"always refuses an ID", Always, true, false, true, false, FailAlwaysByID},
		{"an unknown ID is not pulled", Missing, false, false, true, false, FailNotLocal},
		{"newer with a local image asks the registry", Newer, true, false, false, false, PullIfNewer},
	}
	for _, r := range rules {
		if got := Decide(r.p, r.found, r.corrupted, r.byID, r.custom); got != r.want {
			t.Errorf("%s: got %v, want %v", r.name, got, r.want)
		}
	}
}

func ExampleDecide() {
	p, _ := Parse("IfNotPresent")
	fmt.Println(p, Decide(p, true, false, false, false))
	fmt.Println(p, Decide(p, true, true, false, false))
	// Output:
	// missing use-local
	// missing pull
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
