package enginetest

import (
	"net/http"
	"sync/atomic"
)

// RequestMatcher selects the requests a fault applies to.
type RequestMatcher func(*http.Request) bool

// Kind matches requests of the given kinds.
func Kind(kinds ...RequestKind) RequestMatcher {
	return func(r *http.Request) bool {
		k := kindOf(r)
		for _, want := range kinds {
			if k == want {
				return true
			}
		}
		return false
	}
}

// FailWith answers the matching requests with status and a registry error
// body carrying code (e.g. "MANIFEST_UNKNOWN") and message. times bounds
// how many requests fail (then they pass); times < 0 fails them all.
func FailWith(match RequestMatcher, times int, status int, code, message string) RegistryOption {
	var failed atomic.Int64
	return WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && (times < 0 || failed.Add(1) <= int64(times)) {
				writeRegistryError(w, status, code, message)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
}
