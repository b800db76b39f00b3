package metrics_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/metrics"
	"github.com/pullengine/pullengine/policy"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// gathered is one scrape: the families by name.
type gathered map[string]*dto.MetricFamily

func gather(t *testing.T, reg *prometheus.Registry) gathered {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := gathered{}
	for _, f := range fams {
		g[f.GetName()] = f
	}
	return g
}

// metric returns the series of name whose labels are labels (all of them).
func (g gathered) metric(t *testing.T, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := g[name]
	if f == nil {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func (g gathered) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	return g.metric(t, name, labels).GetCounter().GetValue()
}

// blobBytes is what a cold pull of img fetches: its config and layers.
func blobBytes(t *testing.T, img interface {
	RawConfigFile() ([]byte, error)
}, layers int64) int64 {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(cfg)) + layers
}

// Good, reusing, local, failed, fallen back and retried pulls through a real engine, counted
// with their values.
func TestCollectorCountsPulls(t *testing.T) {
	// The first manifest GET fails with 503: the engine retries once.
	reg := enginetest.NewRegistry(t, enginetest.FailWith(enginetest.Kind(enginetest.ManifestGet), 1, http.StatusServiceUnavailable, "UNAVAILABLE", "try later"))
	img := reg.Push(t, "team/app:v1", enginetest.Files{"a": "1", "b": "22"})
	m := metrics.New()
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) { o.Observer = m }))
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(m)

	g := gather(t, promReg)
	if v := g.counter(t, "pullengine_bytes_total", map[string]string{"kind": "fetched"}); v != 0 {
		t.Errorf("bytes fetched before any pull: %v", v)
	}

	ctx := context.Background()
	res, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, &engine.PullOptions{RetryDelay: 1, MaxRetries: &[]int{3}[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, nil); err != nil {
		t.Fatal(err)
	}
	// The same image under another tag: pulled, its layers reused.
	reg.Push(t, "team/app:v2", enginetest.Files{"a": "1", "b": "22"})
	res2, err := e.Pull(ctx, reg.Host+"/team/app:v2", policy.Always, nil)
	if err != nil || res2.Transfer.BytesReused == 0 {
		t.Fatalf("v2: %v, %+v; want its layers reused", err, res2)
	}
	if _, err := e.Pull(ctx, reg.Host+"/team/app:nope", policy.Missing, &engine.PullOptions{MaxRetries: &[]int{0}[0]}); err == nil {
		t.Fatal("pulling a missing tag succeeded")
	}
	reg.Down()
	if res, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Newer, &engine.PullOptions{MaxRetries: &[]int{0}[0]}); err != nil || res.Outcome != engine.LocalFallback {
		t.Fatalf("newer with the registry down: %v, %+v; want a local fallback", err, res)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var layerBytes int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		layerBytes += n
	}
	want := blobBytes(t, img, layerBytes)
	if res.Transfer.BytesFetched != want {
		t.Fatalf("the engine says it fetched %d bytes, the image has %d", res.Transfer.BytesFetched, want)
	}

	g = gather(t, promReg)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pullengine_pulls_total", map[string]string{"outcome": "pulled", "kind": ""}, 2},
		{"pullengine_pulls_total", map[string]string{"outcome": "used-local", "kind": ""}, 1},
		{"pullengine_pulls_total", map[string]string{"outcome": "failed", "kind": "not-found"}, 1},
		{"pullengine_pulls_total", map[string]string{"outcome": "local-fallback", "kind": "unavailable"}, 1},
		{"pullengine_bytes_total", map[string]string{"kind": "fetched"}, float64(want + res2.Transfer.BytesFetched)},
		{"pullengine_bytes_total", map[string]string{"kind": "reused"}, float64(res2.Transfer.BytesReused)},
		{"pullengine_bytes_total", map[string]string{"kind": "resumed"}, 0},
		{"pullengine_bytes_total", map[string]string{"kind": "discarded"}, 0},
		{"pullengine_retries_total", nil, 1},
	} {
		if got := g.counter(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(g["pullengine_pulls_total"].GetMetric()); n != 4 {
		t.Errorf("%d pulls_total series, want 4", n)
	}
	if got := g.metric(t, "pullengine_pulls_in_flight", nil).GetGauge().GetValue(); got != 0 {
		t.Errorf("in flight after the pulls: %v", got)
	}
	h := g.metric(t, "pullengine_pull_duration_seconds", nil).GetHistogram()
	if h.GetSampleCount() != 5 || h.GetSampleSum() <= 0 {
		t.Errorf("duration histogram: %d samples, sum %v; want 5 and a positive sum", h.GetSampleCount(), h.GetSampleSum())
	}
}
