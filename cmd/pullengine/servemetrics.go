package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/pullengine/pullengine/metrics"
)

// startMetrics serves /metrics on addr (--metrics-listen): the engine's
// pull metrics, and the Go runtime's and the process's. It has a registry
// of its own, not Prometheus' global one.
func startMetrics(addr string, c *metrics.Collector, stderr io.Writer) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	errLog := log.New(stderr, "pullengine serve: metrics: ", 0)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errLog}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog}
	go func() { _ = srv.Serve(l) }()
	fmt.Fprintf(stderr, "pullengine serve: serving metrics on http://%s/metrics\n", l.Addr())
	return srv, nil
}
