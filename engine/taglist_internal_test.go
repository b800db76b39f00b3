package engine

import (
	"reflect"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	got := parseChallenges([]string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"`, `Basic realm=x, Bearer realm="r"`})
	want := []challenge{
		{"bearer", map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}},
		{"basic", map[string]string{"realm": "x"}},
		{"bearer", map[string]string{"realm": "r"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// A registry's WWW-Authenticate header is hostile input: parsing it ends,
// whatever it holds.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="r",service="s"`, `Basic realm=x, Bearer realm="r"`, `a b=" c`, `,,, = ,"`, `Bearer realm="\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseChallenges([]string{s})
	})
}
