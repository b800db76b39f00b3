package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// The warning for a TCP listener grows with the address's reach.
func TestListenWarning(t *testing.T) {
	for _, c := range []struct {
		addr string
		want string
	}{
		{"127.0.0.1:8080", "every local user and process"},
		{"[::1]:8080", "every local user and process"},
		{"0.0.0.0:8080", "ALL network interfaces"},
		{"[::]:8080", "ALL network interfaces"},
		{"192.0.2.7:8080", "ANYONE ON THAT NETWORK"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		w := listenWarning(addr, false)
		if !strings.Contains(w, c.want) || !strings.HasPrefix(w, "WARNING") {
			t.Errorf("%s: %q does not say %q", c.addr, w, c.want)
		}
		if addr.IP.IsLoopback() && strings.Contains(w, "ANYONE") {
			t.Errorf("%s: loopback warned as the network: %q", c.addr, w)
		}
		if wl := listenWarning(addr, true); !strings.Contains(wl, "--allow-path") {
			t.Errorf("%s: the warning does not mention the local sources: %q", c.addr, wl)
		}
	}
}

// serveArgs are the store flags of an engine over reg.
func serveArgs(t *testing.T, reg *enginetest.Registry) []string {
	o := enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg))
	return []string{"--root", o.RootDir, "--runroot", o.RunDir, "--storage-driver", "vfs",
		"--registries-conf", o.RegistriesConfPath, "--signature-policy", o.SignaturePolicyPath, "--authfile", o.AuthFilePath}
}

// startTCP runs serve --listen 127.0.0.1:0 and returns its base URL.
func startTCP(t *testing.T, reg *enginetest.Registry, extra ...string) (string, *watchWriter) {
	t.Helper()
	stderr := &watchWriter{}
	code := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	args := append(append([]string{"--listen", "127.0.0.1:0"}, serveArgs(t, reg)...), extra...)
	go func() { code <- serve(ctx, args, io.Discard, stderr) }()
	t.Cleanup(func() { cancel(); <-code })
	stderr.await(t, "serving libpod's pull API on tcp://")
	m := regexp.MustCompile(`on tcp://(\S+)`).FindStringSubmatch(stderr.String())
	return "http://" + m[1], stderr
}

// post sends a pull to base with an optional Host and headers.
func post(t *testing.T, base, host string, header http.Header, query url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v5.8.0/libpod/images/pull?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// serve --listen refuses browser requests and rebound Host names, allows
// the names given with --allow-host, caps retry, and warns about loopback
// TCP in its own words.
func TestServeListenGuards(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	base, stderr := startTCP(t, reg, "--allow-host", "builder.internal", "--max-retries", "1")
	if !strings.Contains(stderr.String(), "every local user and process") {
		t.Errorf("no loopback warning:\n%s", stderr)
	}
	ref := url.Values{"reference": {reg.Host + "/team/app:v1"}}
	for _, c := range []struct {
		name   string
		host   string
		header http.Header
	}{
		{"rebound Host", "evil.example", nil},
		{"Origin", "", http.Header{"Origin": {"http://evil.example"}}},
		{"cross-site", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	} {
		if status, body := post(t, base, c.host, c.header, ref); status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", c.name, status, body)
		}
	}
	if status, body := post(t, base, "builder.internal:1234", nil, ref); status != http.StatusOK || !strings.Contains(body, `"status":"success"`) {
		t.Errorf("an allowed Host: %d %s", status, body)
	}
	if status, body := post(t, base, "", nil, url.Values{"reference": ref["reference"], "retry": {"2"}}); status != http.StatusBadRequest {
		t.Errorf("retry over --max-retries: %d %s", status, body)
	}
}

// serve --allow-path serves local archives under the directory and
// refuses the others with 403; a reference with credentials shows xxxxx in
// the INFO and --debug lines; a long reference is clipped in every line.
func TestServeAllowPathAndLogs(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	allowed := t.TempDir()
	img := enginetest.NewImage(t, enginetest.WithLayer(t, enginetest.Files{"a": "1"}))
	enginetest.WriteOCIArchive(t, filepath.Join(allowed, "app.tar"), img, nil)
	outside := t.TempDir()
	enginetest.WriteOCIArchive(t, filepath.Join(outside, "app.tar"), img, nil)
	base, stderr := startTCP(t, reg, "--allow-path", allowed, "--debug")

	status, body := post(t, base, "", nil, url.Values{"reference": {"oci-archive:" + filepath.Join(allowed, "app.tar")}})
	if status != http.StatusOK || !strings.Contains(body, enginetest.ID(t, img)) {
		t.Errorf("allowed archive: %d %s", status, body)
	}
	if status, body := post(t, base, "", nil, url.Values{"reference": {"oci-archive:" + filepath.Join(outside, "app.tar")}}); status != http.StatusForbidden {
		t.Errorf("archive outside: %d %s", status, body)
	}

	const secret = "canary-serve-S3cret"
	for _, ref := range []string{"alice:" + secret + "@" + reg.Host + "/team/app:v1", "docker://alice:" + secret + "@" + reg.Host + "/team/app"} {
		if status, body := post(t, base, "", nil, url.Values{"reference": {ref}}); status != http.StatusBadRequest || strings.Contains(body, secret) {
			t.Errorf("%d %s", status, body)
		}
	}
	long := reg.Host + "/" + strings.Repeat("Bad", 1300)
	if status, _ := post(t, base, "", nil, url.Values{"reference": {long}}); status != http.StatusBadRequest {
		t.Errorf("long reference: %d", status)
	}
	logs := stderr.String()
	if strings.Contains(logs, secret) || !strings.Contains(logs, "name=xxxxx@") || !strings.Contains(logs, "reference=xxxxx@") {
		t.Errorf("the logs carry the secret, or no xxxxx in the INFO (reference=) and --debug (name=) lines:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if len(line) > 8*maxLogValue {
			t.Errorf("a %d-byte log line: %.300s", len(line), line)
		}
	}
}
