package httpapi

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// doHost sends a pull with the given Host and extra headers.
func (v *env) doHost(t *testing.T, host string, header http.Header, ref string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.srv.URL+"/v5.8.0/libpod/images/pull?"+q("reference", ref).Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := v.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// Requests from browsers (an Origin header, a Sec-Fetch-Site other than
// none) are refused with 403 before any pull; so are Hosts that are not
// the server's with Options.HostCheck (DNS rebinding). Addresses, localhost
// and the names allowed pass.
func TestBrowserAndHostRefused(t *testing.T) {
	v := newEnv(t, withHandlerOptions(Options{HostCheck: true, AllowedHosts: []string{"builder.internal"}}))
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := v.ref("team/app:v1")
	refused := []struct {
		name   string
		host   string
		header http.Header
	}{
		{"Origin", "", http.Header{"Origin": {"https://evil.example"}}},
		{"Origin null", "", http.Header{"Origin": {"null"}}},
		{"cross-site", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"same-site", "", http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"rebound name", "evil.example:8080", nil},
		{"rebound name without port", "attacker.test", nil},
	}
	for _, c := range refused {
		v.reg.Requests.Reset()
		m := v.doHost(t, c.host, c.header, ref).errorBody(t, http.StatusForbidden)
		if !strings.Contains(m.Message, "refused") && !strings.Contains(m.Message, "is not this server's") {
			t.Errorf("%s: message %q", c.name, m.Message)
		}
		if n := v.reg.Requests.Total(); n != 0 {
			t.Errorf("%s: the registry got %d requests", c.name, n)
		}
	}
	for _, host := range []string{"", "localhost:1234", "LOCALHOST", "[::1]:80", "10.1.2.3", "builder.internal:8080"} {
		a := v.doHost(t, host, http.Header{"Sec-Fetch-Site": {"none"}}, ref)
		if a.status != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200: %s", host, a.status, a.body)
		}
	}
	// Without Options.HostCheck (a unix socket), any Host passes; Origin never.
	plain := newEnv(t)
	plain.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	if a := plain.doHost(t, "d", nil, plain.ref("team/app:v1")); a.status != http.StatusOK {
		t.Errorf("Host d on a handler without host check: %d %s", a.status, a.body)
	}
	plain.doHost(t, "d", http.Header{"Origin": {"https://evil.example"}}, plain.ref("team/app:v1")).errorBody(t, http.StatusForbidden)
}

// Past Options.MaxConcurrentPulls, a pull is answered 429 with Retry-After
// before it starts; once a slot frees, pulls are served again.
func TestConcurrentPullCap(t *testing.T) {
	b := newBlocker(enginetest.Kind(enginetest.BlobGet))
	v := newEnv(t, withRegistryOptions(enginetest.WithMiddleware(b.middleware)), withHandlerOptions(Options{MaxConcurrentPulls: 1}))
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	v.reg.Push(t, "team/other:v1", enginetest.Files{"b": "2"})

	var wg sync.WaitGroup
	var first answer
	wg.Go(func() { first = v.pull(t, q("reference", v.ref("team/app:v1")), nil) })
	b.wait(t) // the first pull holds the only slot

	v.reg.Requests.Reset()
	busy := v.pull(t, q("reference", v.ref("team/other:v1")), nil)
	m := busy.errorBody(t, http.StatusTooManyRequests)
	if busy.header.Get("Retry-After") == "" || !strings.Contains(m.Message, "at most 1") {
		t.Errorf("429 without Retry-After or reason: %v %+v", busy.header, m)
	}
	if n := v.reg.Requests.Total(); n != 0 {
		t.Errorf("the refused pull reached the registry (%d requests)", n)
	}
	b.Release()
	wg.Wait()
	if first.status != http.StatusOK {
		t.Fatalf("the first pull: %d %s", first.status, first.body)
	}
	if a := v.pull(t, q("reference", v.ref("team/other:v1")), nil); a.status != http.StatusOK {
		t.Errorf("after the slot freed: %d %s", a.status, a.body)
	}
}

// retry above the server's limit is a 400 naming the limit; at the limit
// the pull runs.
func TestRetryCap(t *testing.T) {
	v := newEnv(t, withHandlerOptions(Options{MaxRetries: 2}))
	v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	m := v.pull(t, q("reference", v.ref("team/app:v1"), "retry", "3"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "at most 2") {
		t.Errorf("message %q", m.Message)
	}
	if a := v.pull(t, q("reference", v.ref("team/app:v1"), "retry", "2"), nil); a.status != http.StatusOK {
		t.Errorf("retry=2: %d %s", a.status, a.body)
	}
	d := newEnv(t)
	m = d.pull(t, q("reference", "x", "retry", "1000"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "at most 10") {
		t.Errorf("default cap: %q", m.Message)
	}
	n := newEnv(t, withHandlerOptions(Options{MaxRetries: -1}))
	m = n.pull(t, q("reference", "x", "retry", "1"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "at most 0") {
		t.Errorf("negative cap: %q", m.Message)
	}
}

// A long invalid reference is not echoed whole: the 400 body and the log
// hold a clipped copy, whether the handler refuses it for its length or
// the engine for its syntax.
func TestLongReferenceClipped(t *testing.T) {
	v := newEnv(t)
	for _, ref := range []string{
		strings.Repeat("A", 100_000),                      // over MaxReferenceLength
		"registry.example/" + strings.Repeat("Bad", 1000), // invalid (upper case), under it
	} {
		a := v.pull(t, q("reference", ref), nil)
		a.errorBody(t, http.StatusBadRequest)
		if len(a.body) > 4*maxEcho+512 {
			t.Errorf("a %d-byte reference gave a %d-byte body: %.300s", len(ref), len(a.body), a.body)
		}
		if !strings.Contains(string(a.body), "more bytes)") {
			t.Errorf("the body does not say it was clipped: %.300s", a.body)
		}
	}
	// The handler's own lines (the engine's debug lines are clipped by
	// serve's log handler, cmd/pullengine).
	seen := 0
	for _, line := range strings.Split(v.logs.String(), "\n") {
		if !strings.Contains(line, `msg=pull `) && !strings.Contains(line, `msg="pull request rejected"`) {
			continue
		}
		seen++
		if len(line) > 4*maxEcho+512 {
			t.Errorf("a %d-byte log line: %.300s", len(line), line)
		}
	}
	if seen != 2 {
		t.Errorf("%d handler log lines, want 2 (one per request):\n%.2000s", seen, v.logs.String())
	}
}

// Credentials written into the reference never show in the 400 body or the
// handler's log lines: xxxxx stands in their place (issue 10, items 5, 13).
func TestCredentialsInReferenceNeverShow(t *testing.T) {
	v := newEnv(t)
	for _, ref := range []string{
		"alice:" + canary + "@" + v.reg.Host + "/team/app:v1",
		"docker://alice:" + canary + "@" + v.reg.Host + "/team/app:v1",
		"https://alice:" + canary + "@" + v.reg.Host + "/v2/team/app/manifests/v1",
	} {
		for _, query := range []map[string]string{{}, {"quiet": "true"}, {"pullProgress": "true"}} {
			kv := []string{"reference", ref}
			for k, val := range query {
				kv = append(kv, k, val)
			}
			a := v.pull(t, q(kv...), nil)
			if strings.Contains(string(a.body), canary) || !strings.Contains(string(a.body), "xxxxx") {
				t.Errorf("%v: body %s", query, a.body)
			}
		}
	}
	if logs := v.logs.String(); strings.Contains(logs, canary) || !strings.Contains(logs, "xxxxx") {
		t.Errorf("the logs carry the password, or no xxxxx:\n%s", logs)
	}
}
