package decide

import (
	"fmt"
	"testing"

	"github.com/pullengine/pullengine/policy"
)

func TestEffective(t *testing.T) {
	cases := []struct {
		p          policy.Policy
		custom     bool
		want       policy.Policy
		wantReason bool
	}{
		{policy.Default, false, policy.Missing, false},
		{policy.Default, true, policy.Newer, true},
		{policy.Missing, false, policy.Missing, false},
		{policy.Missing, true, policy.Newer, true},
		{policy.Newer, true, policy.Newer, false},
		{policy.Always, true, policy.Always, false},
		{policy.Never, true, policy.Never, false},
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
	expect := map[policy.Policy]func(s situation) Action{
		policy.Never: func(s situation) Action {
			if s.found && !s.corrupted {
				return UseLocal
			}
			return FailNotLocal
		},
		policy.Always: func(s situation) Action {
			if s.byID {
				return FailAlwaysByID
			}
			return Pull
		},
		policy.Missing: func(s situation) Action {
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
		policy.Newer: func(s situation) Action {
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
	expect[policy.Default] = expect[policy.Missing]

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
		p                              policy.Policy
		found, corrupted, byID, custom bool
		want                           Action
	}{
		{"a corrupted image counts as absent under missing", policy.Missing, true, true, false, false, Pull},
		{"a corrupted image counts as absent under never", policy.Never, true, true, false, false, FailNotLocal},
		{"never with a custom platform stays never", policy.Never, true, false, false, true, UseLocal},
		{"a custom platform turns missing into newer", policy.Missing, true, false, false, true, PullIfNewer},
		{"always refuses an ID", policy.Always, true, false, true, false, FailAlwaysByID},
		{"an unknown ID is not pulled", policy.Missing, false, false, true, false, FailNotLocal},
		{"newer with a local image asks the registry", policy.Newer, true, false, false, false, PullIfNewer},
	}
	for _, r := range rules {
		if got := Decide(Situation{Policy: r.p, LocalFound: r.found, LocalCorrupted: r.corrupted, ByID: r.byID, PlatformPinned: r.custom}); got != r.want {
			t.Errorf("%s: got %v, want %v", r.name, got, r.want)
		}
	}
}

// Requests other than one registry name: all tags and several platforms
// need the registry, so policy.Never refuses them and every other policy pulls;
// a non-registry source is copied under every policy.
func TestDecideRequests(t *testing.T) {
	cases := []struct {
		r    Request
		p    policy.Policy
		want Action
	}{
		{RequestAllTags, policy.Never, FailNeedsRegistry},
		{RequestAllTags, policy.Default, Pull},
		{RequestAllTags, policy.Always, Pull},
		{RequestAllTags, policy.Missing, Pull},
		{RequestAllTags, policy.Newer, Pull},
		{RequestPlatforms, policy.Never, FailNeedsRegistry},
		{RequestPlatforms, policy.Default, Pull},
		{RequestPlatforms, policy.Always, Pull},
		{RequestPlatforms, policy.Missing, Pull},
		{RequestPlatforms, policy.Newer, Pull},
		{RequestTransport, policy.Never, Pull},
		{RequestTransport, policy.Default, Pull},
		{RequestTransport, policy.Always, Pull},
		{RequestTransport, policy.Missing, Pull},
		{RequestTransport, policy.Newer, Pull},
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
	p, _ := policy.Parse("IfNotPresent")
	fmt.Println(p, Decide(Situation{Policy: p, LocalFound: true}))
	fmt.Println(p, Decide(Situation{Policy: p, LocalFound: true, LocalCorrupted: true}))
	// Output:
	// missing use-local
	// missing pull
}
