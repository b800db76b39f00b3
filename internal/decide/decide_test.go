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
		p                              policy.Policy
		found, corrupted, byID, custom bool
		want                           Action
	}{
		// Never
		{policy.Never, n, n, n, n, FailNotLocal},
		{policy.Never, n, n, n, y, FailNotLocal},
		{policy.Never, n, n, y, n, FailNotLocal},
		{policy.Never, n, n, y, y, FailNotLocal},
		{policy.Never, n, y, n, n, FailNotLocal},
		{policy.Never, n, y, n, y, FailNotLocal},
		{policy.Never, n, y, y, n, FailNotLocal},
		{policy.Never, n, y, y, y, FailNotLocal},
		{policy.Never, y, n, n, n, UseLocal},
		{policy.Never, y, n, n, y, UseLocal},
		{policy.Never, y, n, y, n, UseLocal},
		{policy.Never, y, n, y, y, UseLocal},
		{policy.Never, y, y, n, n, FailNotLocal},
		{policy.Never, y, y, n, y, FailNotLocal},
		{policy.Never, y, y, y, n, FailNotLocal},
		{policy.Never, y, y, y, y, FailNotLocal},
		// Always
		{policy.Always, n, n, n, n, Pull},
		{policy.Always, n, n, n, y, Pull},
		{policy.Always, n, n, y, n, FailAlwaysByID},
		{policy.Always, n, n, y, y, FailAlwaysByID},
		{policy.Always, n, y, n, n, Pull},
		{policy.Always, n, y, n, y, Pull},
		{policy.Always, n, y, y, n, FailAlwaysByID},
		{policy.Always, n, y, y, y, FailAlwaysByID},
		{policy.Always, y, n, n, n, Pull},
		{policy.Always, y, n, n, y, Pull},
		{policy.Always, y, n, y, n, FailAlwaysByID},
		{policy.Always, y, n, y, y, FailAlwaysByID},
		{policy.Always, y, y, n, n, Pull},
		{policy.Always, y, y, n, y, Pull},
		{policy.Always, y, y, y, n, FailAlwaysByID},
		{policy.Always, y, y, y, y, FailAlwaysByID},
		// Missing
		{policy.Missing, n, n, n, n, Pull},
		{policy.Missing, n, n, n, y, Pull},
		{policy.Missing, n, n, y, n, FailNotLocal},
		{policy.Missing, n, n, y, y, FailNotLocal},
		{policy.Missing, n, y, n, n, Pull},
		{policy.Missing, n, y, n, y, Pull},
		{policy.Missing, n, y, y, n, FailNotLocal},
		{policy.Missing, n, y, y, y, FailNotLocal},
		{policy.Missing, y, n, n, n, UseLocal},
		{policy.Missing, y, n, n, y, PullIfNewer},
		{policy.Missing, y, n, y, n, UseLocal},
		{policy.Missing, y, n, y, y, UseLocal},
		{policy.Missing, y, y, n, n, Pull},
		{policy.Missing, y, y, n, y, Pull},
		{policy.Missing, y, y, y, n, FailNotLocal},
		{policy.Missing, y, y, y, y, FailNotLocal},
		// Default
		{policy.Default, n, n, n, n, Pull},
		{policy.Default, n, n, n, y, Pull},
		{policy.Default, n, n, y, n, FailNotLocal},
		{policy.Default, n, n, y, y, FailNotLocal},
		{policy.Default, n, y, n, n, Pull},
		{policy.Default, n, y, n, y, Pull},
		{policy.Default, n, y, y, n, FailNotLocal},
		{policy.Default, n, y, y, y, FailNotLocal},
		{policy.Default, y, n, n, n, UseLocal},
		{policy.Default, y, n, n, y, PullIfNewer},
		{policy.Default, y, n, y, n, UseLocal},
		{policy.Default, y, n, y, y, UseLocal},
		{policy.Default, y, y, n, n, Pull},
		{policy.Default, y, y, n, y, Pull},
		{policy.Default, y, y, y, n, FailNotLocal},
		{policy.Default, y, y, y, y, FailNotLocal},
		// Newer
		{policy.Newer, n, n, n, n, Pull},
		{policy.Newer, n, n, n, y, Pull},
		{policy.Newer, n, n, y, n, FailNotLocal},
		{policy.Newer, n, n, y, y, FailNotLocal},
		{policy.Newer, n, y, n, n, Pull},
		{policy.Newer, n, y, n, y, Pull},
		{policy.Newer, n, y, y, n, FailNotLocal},
		{policy.Newer, n, y, y, y, FailNotLocal},
		{policy.Newer, y, n, n, n, PullIfNewer},
		{policy.Newer, y, n, n, y, PullIfNewer},
		{policy.Newer, y, n, y, n, UseLocal},
		{policy.Newer, y, n, y, y, UseLocal},
		{policy.Newer, y, y, n, n, Pull},
		{policy.Newer, y, y, n, y, Pull},
		{policy.Newer, y, y, y, n, FailNotLocal},
		{policy.Newer, y, y, y, y, FailNotLocal},
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
		if got := Decide(Situation{Policy: c.p, LocalFound: c.found, LocalCorrupted: c.corrupted, ByID: c.byID, PlatformPinned: c.custom}); got != c.want {
			t.Errorf("Decide(%v, found=%v, corrupted=%v, byID=%v, custom=%v) = %v; want %v",
				c.p, c.found, c.corrupted, c.byID, c.custom, got, c.want)
		}
	}
}

// A few cells spelled out as the design states them, so a reader sees the
// rules without reading the whole table above.
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
