package httpapi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
)

// Invalid parameters are answered 400, with libpod's error body, before
// anything reaches the registry.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := v.ref("team/app:v1")
	b64 := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

	cases := []struct {
		name   string
		raw    string // the query, raw
		header http.Header
		want   string // in the message
	}{
		{"no reference", "policy=always", nil, "reference parameter cannot be empty"},
		{"empty reference", "reference=", nil, "reference parameter cannot be empty"},
		{"bad policy", "reference=" + ref + "&policy=sometimes", nil, `unsupported pull policy "sometimes"`},
		{"bad tlsVerify", "reference=" + ref + "&tlsVerify=maybe", nil, `tlsVerify="maybe" is not a boolean`},
		{"bad quiet", "reference=" + ref + "&quiet=yes", nil, `quiet="yes" is not a boolean`},
		{"bad allTags", "reference=" + ref + "&allTags=all", nil, `alltags="all" is not a boolean`},
		{"negative retry", "reference=" + ref + "&retry=-1", nil, `retry="-1"`},
		{"bad retry", "reference=" + ref + "&retry=three", nil, `retry="three"`},
		{"huge retry", "reference=" + ref + "&retry=99999999999", nil, `retry="99999999999"`},
		{"bad retryDelay", "reference=" + ref + "&retryDelay=soon", nil, `retryDelay="soon"`},
		{"negative retryDelay", "reference=" + ref + "&retrydelay=-1s", nil, `retryDelay="-1s"`},
		{"bad arch", "reference=" + ref + "&Arch=arm*", nil, "invalid platform"},
		{"bad os", "reference=" + ref + "&OS=lin/ux", nil, "invalid platform"},
		{"arch as os", "reference=" + ref + "&OS=arm64&Arch=amd64", nil, "is an architecture, not an operating system"},
		{"variant alone", "reference=" + ref + "&Variant=v7", nil, `Variant="v7" needs Arch`},
		{"quiet and pullProgress", "reference=" + ref + "&quiet=true&pullProgress=true", nil, "'pullProgress' and 'quiet' cannot be used simultaneously"},
		{"compatMode and quiet", "reference=" + ref + "&quiet=1&compatMode=1", nil, "'compatMode' and 'quiet' cannot be used simultaneously"},
		{"compatMode and pullProgress", "reference=" + ref + "&compatMode=true&pullprogress=true", nil, "'compatMode' and 'pullProgress' cannot be used simultaneously"},
		{"oci-archive", "reference=oci-archive:/etc/passwd", nil, "unsupported transport oci-archive"},
		{"dir", "reference=dir:/tmp", nil, "unsupported transport dir"},
		{"containers-storage", "reference=containers-storage:foo", nil, "unsupported transport containers-storage"},
		{"bad escape", "reference=" + ref + "&policy=%zz", nil, "not URL-encoded correctly"},
		{"invalid reference", "reference=" + v.reg.Host + "/Team/App:v1", nil, "Team/App"},
		{"bad digest", "reference=" + v.reg.Host + "/team/app@sha256:123", nil, "sha256:123"},
		{"auth not base64", "reference=" + ref, http.Header{"X-Registry-Auth": {"!!" + canary}}, `"X-Registry-Auth" header: it is not base64url-encoded`},
		{"auth not json", "reference=" + ref, http.Header{"X-Registry-Auth": {b64("user:" + canary)}}, `"X-Registry-Auth" header: it is not JSON credentials`},
		{"config not a map", "reference=" + ref, http.Header{"X-Registry-Config": {b64(`{"username":"u","password":"` + canary + `"}`)}}, `"X-Registry-Config" header: it is not a JSON map`},
		{"identity token and password", "reference=" + ref, authHeader(t, map[string]string{"username": "u", "password": canary, "identitytoken": "tok"}), "identity token and a username/password"},
		{"allTags with a tag", "reference=" + ref + "&allTags=true", nil, "must not carry a tag"},
		{"allTags with an ID", "reference=" + strings.Repeat("ab", 32) + "&allTags=true", nil, "all tags of an image ID"},
		{"always by ID", "reference=" + strings.Repeat("ab", 32), nil, "referred to by ID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v.reg.Requests.Reset()
			for _, mode := range []string{"", "&quiet=true", "&compatMode=true"} {
				if strings.Contains(c.raw, "quiet") || strings.Contains(strings.ToLower(c.raw), "compatmode") || strings.Contains(strings.ToLower(c.raw), "pullprogress") {
					if mode != "" {
						continue
					}
				}
				a := v.do(t, http.MethodPost, "/v5.8.0/libpod/images/pull?"+c.raw+mode, c.header)
				if mode == "&compatMode=true" {
					// Engine errors are Docker's {"message": <root cause>}.
					a.compatErrorBody(t, http.StatusBadRequest)
					continue
				}
				m := a.errorBody(t, http.StatusBadRequest)
				if !strings.Contains(m.Message, c.want) {
					t.Errorf("%s: message %q lacks %q", mode, m.Message, c.want)
				}
				if strings.Contains(string(a.body), canary) {
					t.Errorf("the answer echoes a credential: %s", a.body)
				}
			}
			if n := v.reg.Requests.Total(); n != 0 {
				t.Errorf("%d registry requests, want none: %v", n, v.reg.Requests.Log())
			}
		})
	}
	if strings.Contains(v.logs.String(), canary) {
		t.Errorf("a credential reached the logs:\n%s", v.logs.String())
	}
}

func TestQueryValues(t *testing.T) {
	t.Parallel()
	// podman 4.3.1 sends lower-case keys and empty values; the bindings
	// lower-case too; "password" is not a parameter and is never kept.
	got, err := queryValues("alltags=false&arch=&authfile=&os=&password=" + canary + "&policy=always&quiet=false&reference=a%2Fb%3Av1&username=&variant=&RetryDelay=2s&retrydelay=3s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alltags": "false", "policy": "always", "quiet": "false", "reference": "a/b:v1", "retrydelay": "3s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestParsePullRequest(t *testing.T) {
	t.Parallel()
	host := platform.Host()
	cases := []struct {
		raw  string
		want pullRequest
	}{
		{"reference=x", pullRequest{reference: "x", policy: policy.Always}},
		{"reference=x&policy=", pullRequest{reference: "x", policy: policy.Always}},
		{"reference=x&policy=IfNewer", pullRequest{reference: "x", policy: policy.Newer}},
		{"reference=x&policy=missing&allTags=1&pullProgress=true", pullRequest{reference: "x", policy: policy.Missing, allTags: true, pullProgress: true}},
		{"reference=x&OS=linux&Arch=arm64", pullRequest{reference: "x", policy: policy.Always, platform: platform.MustParse("linux/arm64")}},
		{"reference=x&arch=aarch64", pullRequest{reference: "x", policy: policy.Always, platform: platform.Platform{OS: host.OS, Architecture: "arm64"}}},
		{"reference=x&Arch=arm&Variant=v6", pullRequest{reference: "x", policy: policy.Always, platform: platform.Platform{OS: host.OS, Architecture: "arm", Variant: "v6"}}},
		{"reference=x&OS=linux", pullRequest{reference: "x", policy: policy.Always, platform: platform.Platform{OS: "linux", Architecture: host.Architecture, Variant: host.Variant}}},
		{"reference=x&retrydelay=0s", pullRequest{reference: "x", policy: policy.Always, retryDelay: time.Nanosecond}},
		{"reference=x&retryDelay=250ms&compatMode=true", pullRequest{reference: "x", policy: policy.Always, retryDelay: 250 * time.Millisecond, compatMode: true}},
	}
	for _, c := range cases {
		got, err := parsePullRequest(c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if got.reference != c.want.reference || got.policy != c.want.policy || got.platform != c.want.platform ||
			got.allTags != c.want.allTags || got.pullProgress != c.want.pullProgress || got.compatMode != c.want.compatMode ||
			got.retryDelay != c.want.retryDelay || got.quiet != c.want.quiet {
			t.Errorf("%s: got %+v, want %+v", c.raw, *got, c.want)
		}
	}

	got, err := parsePullRequest("reference=x&tlsverify=false&retry=2")
	if err != nil || got.tlsVerify == nil || *got.tlsVerify || got.retry == nil || *got.retry != 2 {
		t.Errorf("tlsverify/retry: %+v, %v", got, err)
	}
	got, err = parsePullRequest("reference=x&tlsVerify=&retry=")
	if err != nil || got.tlsVerify != nil || got.retry != nil {
		t.Errorf("empty tlsVerify/retry must mean unset: %+v, %v", got, err)
	}
}
