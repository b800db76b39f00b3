package registryclient

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   []Challenge
	}{
		{
			name:   "two values, three challenges",
			values: []string{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"`, `Basic realm=x, Bearer realm="r"`},
			want: []Challenge{
				{"bearer", map[string]string{"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}},
				{"basic", map[string]string{"realm": "x"}},
				{"bearer", map[string]string{"realm": "r"}},
			},
		},
		{
			name:   "escapes and spaces in quotes, keys lower-cased",
			values: []string{`BEARER Realm="a \"b\" c" , Service = s`},
			want:   []Challenge{{"bearer", map[string]string{"realm": `a "b" c`, "service": "s"}}},
		},
		{
			name:   "unterminated quote",
			values: []string{`Bearer realm="https://r`},
			want:   []Challenge{{"bearer", map[string]string{"realm": "https://r"}}},
		},
		{
			name:   "scheme alone, empty value",
			values: []string{"Basic", "  ", ""},
			want:   []Challenge{{"basic", map[string]string{}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseChallenges(tc.values)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A header of megabytes keeps maxChallenges challenges of at most maxParams
// parameters, and the parse allocates little more than the header.
func TestParseChallengesBounded(t *testing.T) {
	words := strings.Repeat("a ", 2<<20)
	if got := ParseChallenges([]string{words, "Bearer realm=r"}); len(got) != maxChallenges {
		t.Errorf("%d challenges kept, want %d", len(got), maxChallenges)
	}
	var b strings.Builder
	b.WriteString("Bearer ")
	for i := range 100000 {
		fmt.Fprintf(&b, "k%d=v,", i)
	}
	params := b.String()
	got := ParseChallenges([]string{params})
	if len(got) != 1 || len(got[0].Params) != maxParams {
		t.Fatalf("got %d challenges, the first with %d params; want 1 with %d", len(got), len(got[0].Params), maxParams)
	}
	if got[0].Params["k0"] != "v" {
		t.Errorf("the first parameters are not the ones kept: %v", got[0].Params)
	}
	allocs := testing.AllocsPerRun(3, func() { ParseChallenges([]string{words}) })
	if allocs > 4*maxChallenges {
		t.Errorf("%v allocations parsing 4 MiB of words, want at most %d", allocs, 4*maxChallenges)
	}
}

// A registry's WWW-Authenticate header is hostile input: parsing it ends,
// without panicking, with at most one challenge per byte, lower-case
// schemes and keys, and values no longer than the input.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="r",service="s"`, `Basic realm=x, Bearer realm="r"`, `a b=" c`, `,,, = ,"`, `Bearer realm="\`, "\t, a\t=b", `x "=" y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseChallenges([]string{s})
		if len(got) > len(s) || len(got) > maxChallenges {
			t.Fatalf("%d challenges from %d bytes", len(got), len(s))
		}
		for _, c := range got {
			if c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) {
				t.Fatalf("scheme %q", c.Scheme)
			}
			if len(c.Params) > maxParams {
				t.Fatalf("%d params", len(c.Params))
			}
			for k, v := range c.Params {
				if k != strings.ToLower(k) || len(v) > len(s) {
					t.Fatalf("param %q=%q", k, v)
				}
			}
		}
	})
}
