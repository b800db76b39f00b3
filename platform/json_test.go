package platform

import (
	"encoding/json"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// A Platform in JSON is spelled as the OCI image spec spells it, so tools
// that read OCI platforms read ours, and ours read theirs.
func TestJSONIsOCISpelling(t *testing.T) {
	for _, c := range []struct {
		p    Platform
		want string
	}{
		{Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, `{"architecture":"arm","os":"linux","variant":"v7"}`},
		{Platform{OS: "linux", Architecture: "amd64"}, `{"architecture":"amd64","os":"linux"}`},
	} {
		ours, err := json.Marshal(c.p)
		if err != nil {
			t.Fatal(err)
		}
		oci, err := json.Marshal(imgspecv1.Platform{OS: c.p.OS, Architecture: c.p.Architecture, Variant: c.p.Variant})
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, ours, oci) || !jsonEqual(t, ours, []byte(c.want)) {
			t.Errorf("%v marshals as %s; OCI writes %s, want %s", c.p, ours, oci, c.want)
		}
		var back Platform
		if err := json.Unmarshal(oci, &back); err != nil || back != c.p {
			t.Errorf("OCI's %s reads back as %+v, %v; want %+v", oci, back, err, c.p)
		}
	}
}

// jsonEqual compares two JSON objects regardless of key order.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y map[string]any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x) // map keys are sorted
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}
