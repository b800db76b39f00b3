package main

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pullengine/pullengine/enginetest"
)

// metricsURL is the /metrics URL serve announced on stderr.
func (s *server) metricsURL(t *testing.T) string {
	t.Helper()
	s.stderr.await(t, "/metrics\n")
	m := regexp.MustCompile(`serving metrics on (http://\S+/metrics)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no metrics URL in:\n%s", s.stderr)
	}
	return m[1]
}

// scrape reads /metrics and returns each series' value by its text form,
// e.g. `pullengine_pulls_total{kind="",outcome="pulled"}`.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// imageBytes is what a cold pull of img fetches: its config and layers.
func imageBytes(t *testing.T, img v1.Image) float64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return float64(n)
}

// With every pull slot busy, _ping still answers and another pull gets
// 429; the metrics show the pull in flight, then, after a good and a
// failed pull, their counts, bytes and durations.
func TestServeHealthAndMetrics(t *testing.T) {
	h := &held{arrived: make(chan struct{}, 8), release: make(chan struct{})}
	defer h.Release()
	reg := enginetest.NewRegistry(t, enginetest.WithMiddleware(h.middleware))
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1", "b": "22"})
	s := startServe(t, reg, "--max-pulls", "1", "--metrics-listen", "127.0.0.1:0")
	metrics := s.metricsURL(t)
	if got := scrape(t, metrics); got[`pullengine_pulls_in_flight`] != 0 || got[`pullengine_bytes_total{kind="fetched"}`] != 0 {
		t.Errorf("before any pull: %v", got)
	}

	type result struct {
		status int
		lines  []map[string]any
	}
	first := make(chan result, 1)
	go func() {
		status, lines := s.pull(t, reg.Host+"/team/app:v1")
		first <- result{status, lines}
	}()
	<-h.arrived // the only slot is busy, held by the registry

	for _, path := range []string{"/_ping", "/v5.8.0/libpod/_ping"} {
		resp, err := s.client.Get("http://d" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "OK" {
			t.Errorf("%s with every slot busy: %d %q", path, resp.StatusCode, body)
		}
	}
	if status, _ := s.pull(t, reg.Host+"/team/app:v1"); status != http.StatusTooManyRequests {
		t.Errorf("a second pull with every slot busy: %d, want 429", status)
	}
	if got := scrape(t, metrics)["pullengine_pulls_in_flight"]; got != 1 {
		t.Errorf("pulls in flight while one is held: %v", got)
	}

	h.Release()
	if r := <-first; r.status != 200 || r.lines[len(r.lines)-1]["status"] != "success" {
		t.Fatalf("the held pull: %d %v", r.status, r.lines)
	}
	if status, _ := s.pull(t, reg.Host+"/team/app:nope"); status != 404 {
		t.Fatalf("missing tag: %d", status)
	}

	got := scrape(t, metrics)
	for series, want := range map[string]float64{
		`pullengine_pulls_total{kind="",outcome="pulled"}`:          1,
		`pullengine_pulls_total{kind="not-found",outcome="failed"}`: 1,
		`pullengine_pulls_in_flight`:                                0,
		`pullengine_bytes_total{kind="fetched"}`:                    imageBytes(t, img),
		`pullengine_bytes_total{kind="reused"}`:                     0,
		`pullengine_bytes_total{kind="resumed"}`:                    0,
		`pullengine_bytes_total{kind="discarded"}`:                  0,
		`pullengine_pull_duration_seconds_count`:                    2,
		`pullengine_retries_total`:                                  0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	pulls := 0
	for series := range got {
		if strings.HasPrefix(series, "pullengine_pulls_total{") {
			pulls++
		}
	}
	if pulls != 2 {
		t.Errorf("%d pullengine_pulls_total series, want 2 (the refused pull never reached the engine)", pulls)
	}
	if got["pullengine_pull_duration_seconds_sum"] <= 0 {
		t.Errorf("duration sum %v", got["pullengine_pull_duration_seconds_sum"])
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// Without --metrics-listen nothing serves metrics, and the API socket
// does not answer /metrics.
func TestServeNoMetricsByDefault(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	s := startServe(t, reg)
	if strings.Contains(s.stderr.String(), "metrics") {
		t.Errorf("metrics announced without --metrics-listen:\n%s", s.stderr)
	}
	resp, err := s.client.Get("http://d/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics on the API socket: %d, want 404", resp.StatusCode)
	}
}
