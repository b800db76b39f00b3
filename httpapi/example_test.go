package httpapi_test

import (
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/httpapi"
)

// Serve libpod's pull endpoint on a unix socket, as `pullengine serve`
// does; then
//
//	curl --unix-socket /run/pullengine.sock -X POST \
//	    'http://d/v5.0.0/libpod/images/pull?reference=quay.io/libpod/alpine:latest'
//
// or `podman --remote --url unix:///run/pullengine.sock pull quay.io/libpod/alpine`.
// httpapi.NewHandler(e, nil) serves with the defaults; an Options value sets
// the log and the limits.
func ExampleNewHandler() {
	e, err := engine.New(engine.Options{}) // the host's store and configuration
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	l, err := net.Listen("unix", "/run/pullengine.sock")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod("/run/pullengine.sock", 0o600); err != nil {
		log.Fatal(err)
	}
	h := httpapi.NewHandler(e, &httpapi.Options{
		Logger:             slog.Default(),
		MaxConcurrentPulls: 32, // more at once: 429 with Retry-After
	})
	log.Fatal(http.Serve(l, h))
}
