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
// platformPinned. The expected action is written as the design's table
// reads, row by row, not computed the way Decide computes it.
func TestDecide(t *testing.T) {
	type situation struct{ found, corrupted, byID, custom bool }
	// expect returns the table's answer for a situation.
	expect := map[Policy]func(s situation) Action{
		Never: func(s situation) Action {
			if s.found && !s.corrupted {
				return UseLocal
			}
			return FailNotLocal
		},
		Always: func(s situation) Action {
			if s.byID {
				return FailAlwaysByID
			}
			return Pull
		},
		Missing: func(s situation) Action {
			usable := s.found && !s.corrupted
			switch {
			case s.custom && usable && s.byID:
				return UseLocal // behaves as newer: by ID the local image is the answer
			case s.custom && usable:
				return PullIfNewer
			case usable:
				return UseLocal
			case s.byID:
				return FailNotLocal
			}
			return Pull
		},
		Newer: func(s situation) Action {
			usable := s.found && !s.corrupted
			switch {
			case usable && s.byID:
				return UseLocal
			case usable:
				return PullIfNewer
			case s.byID:
				return FailNotLocal
			}
			return Pull
		},
	}
	expect[Default] = expect[Missing]

	cells := 0
	for p, want := range expect {
		for _, found := range []bool{false, true} {
			for _, corrupted := range []bool{false, true} {
				for _, byID := range []bool{false, true} {
					for _, custom := range []bool{false, true} {
						s := situation{found, corrupted, byID, custom}
						got := Decide(Situation{Policy: p, LocalFound: found, LocalCorrupted: corrupted, ByID: byID, PlatformPinned: custom})
						if got != want(s) {
							t.Errorf("Decide(%v, found=%v, corrupted=%v, byID=%v, custom=%v) = %v; want %v",
								p, found, corrupted, byID, custom, got, want(s))
						}
						cells++
					}
				}
			}
		}
	}
	if cells != 5*16 {
		t.Fatalf("covered %d cells, want 80", cells)
	}
}

// A few cells spelled out as the design states them, so a reader sees the
// rules without reading the generator above.
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
		if got := Decide(Situation{Policy: r.p, LocalFound: r.found, LocalCorrupted: r.corrupted, ByID: r.byID, PlatformPinned: r.custom}); got != r.want {
			t.Errorf("%s: got %v, want %v", r.name, got, r.want)
		}
	}
}

// Requests other than one registry name: all tags and several platforms
// need the registry, so Never refuses them and every other policy pulls;
// a non-registry source is copied under every policy.
func TestDecideRequests(t *testing.T) {
	cases := []struct {
		r    Request
		p    Policy
		want Action
	}{
		{RequestAllTags, Never, FailNeedsRegistry},
		{RequestAllTags, Default, Pull},
		{RequestAllTags, Always, Pull},
		{RequestAllTags, Missing, Pull},
		{RequestAllTags, Newer, Pull},
		{RequestPlatforms, Never, FailNeedsRegistry},
		{RequestPlatforms, Default, Pull},
		{RequestPlatforms, Always, Pull},
		{RequestPlatforms, Missing, Pull},
		{RequestPlatforms, Newer, Pull},
		{RequestTransport, Never, Pull},
		{RequestTransport, Default, Pull},
		{RequestTransport, Always, Pull},
		{RequestTransport, Missing, Pull},
		{RequestTransport, Newer, Pull},
	}
	for _, c := range cases {
		for _, found := range []bool{false, true} {
			s := Situation{Policy: c.p, Request: c.r, LocalFound: found, PlatformPinned: found}
			if got := Decide(s); got != c.want {
				t.Errorf("Decide(%+v) = %v; want %v", s, got, c.want)
			}
		}
	}
}

func ExampleDecide() {
	p, _ := Parse("IfNotPresent")
	fmt.Println(p, Decide(Situation{Policy: p, LocalFound: true}))
	fmt.Println(p, Decide(Situation{Policy: p, LocalFound: true, LocalCorrupted: true}))
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
