// Package replay runs the real handler for a request into a recorder and
// sends its answer on, whole or damaged: the ground of the registry
// faults in enginetest and internal/registryfaults, which both need the
// real registry's answer before they break it.
package replay

import (
	"net/http"
	"net/http/httptest"
	"strconv"
)

// Record runs next, the real registry, for r and returns its answer.
func Record(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

// WriteHead copies the recorded answer's status and headers to w, with the
// Content-Length of the whole recorded body.
func WriteHead(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	w.WriteHeader(rec.Code)
}
