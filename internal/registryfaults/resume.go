package registryfaults

// Faults for resumable and partial pulls: a connection cut at a byte
// offset or short of the end, a stall after some bytes (the connection
// stays open), a registry that ignores Range, a body longer than the blob,
// and a registry that refuses multi-range reads. The enginetest registry
// serves closed ranges ("bytes=N-M"), open ones ("bytes=N-") and
// multi-range reads as real registries do; these faults break that.

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/internal/replay"
)

// stallLimit bounds how long StallAt holds a request whose client never
// gives up, as enginetest.Stall does, so that a broken test cannot hang
// the registry's shutdown.
const stallLimit = time.Minute

// CutAt sends the real answer's status and headers (announcing the whole
// body) and its first n body bytes (fewer if the body is shorter), then
// closes the connection: the client reads an unexpected EOF at n. For a
// ranged request, n counts from the range's first byte.
func CutAt(match enginetest.RequestMatcher, times int, n int64) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		sendPrefix(w, r, next, n)
		closeConn(w)
	})
}

// StallAt sends the real answer's status, headers and first n body bytes,
// then sends nothing more while keeping the connection open, until the
// client gives up (or a minute passes): a registry that stops sending.
func StallAt(match enginetest.RequestMatcher, times int, n int64) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		sendPrefix(w, r, next, n)
		t := time.NewTimer(stallLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		}
	})
}

// sendPrefix sends the real answer's status and headers and its first n
// body bytes (fewer if the body is shorter), flushed to the client.
func sendPrefix(w http.ResponseWriter, r *http.Request, next http.Handler, n int64) {
	rec := replay.Record(next, r)
	replay.WriteHead(w, rec)
	body := rec.Body.Bytes()
	_, _ = w.Write(body[:min(int64(len(body)), n)])
	_ = http.NewResponseController(w).Flush()
}

// IgnoreRange serves the matching requests as if they had no Range
// header: 200 with the whole body, as some registries and proxies do.
func IgnoreRange(match enginetest.RequestMatcher, times int) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		whole := r.Clone(r.Context())
		whole.Header.Del("Range")
		next.ServeHTTP(w, whole)
	})
}

// AppendBytes sends the real answer with extra more bytes after its body:
// a blob longer than its declared size. With announce, Content-Length
// counts them; without, the body is sent chunked (no length), so only
// reading past the declared size can tell.
func AppendBytes(match enginetest.RequestMatcher, times int, extra int64, announce bool) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		body := append(rec.Body.Bytes(), make([]byte, extra)...)
		if announce {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		} else {
			w.Header().Del("Content-Length")
		}
		w.WriteHeader(rec.Code)
		if !announce {
			_ = http.NewResponseController(w).Flush() // headers out: chunked from here
		}
		_, _ = w.Write(body)
	})
}

// closeConn closes the client's connection at once (after what was
// flushed), so the client sees the body end early.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return // net/http closes a short body's connection anyway
	}
	_ = conn.Close()
}

// CutBeforeEnd sends the real answer's status and headers (announcing the
// whole body) and all of its body but the last k bytes, then closes the
// connection: a registry that never delivers the end of a blob, however
// it is asked (a ranged request for the last k bytes gets none of them).
func CutBeforeEnd(match enginetest.RequestMatcher, times int, k int64) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		replay.WriteHead(w, rec)
		body := rec.Body.Bytes()
		_, _ = w.Write(body[:max(int64(len(body))-k, 0)])
		_ = http.NewResponseController(w).Flush()
		closeConn(w)
	})
}

// RefuseMultiRange makes the registry answer every multi-range blob GET
// with 400 Bad Request, as registries and proxies that do not support
// multi-range reads do. A partial pull then falls back to fetching whole
// blobs; single-range and plain GETs are served as usual.
func RefuseMultiRange() enginetest.RegistryOption {
	return enginetest.FailWith(enginetest.And(enginetest.Kind(enginetest.BlobGet), multiRange), -1,
		http.StatusBadRequest, "RANGE_INVALID", "multiple ranges are not supported")
}

// multiRange matches requests whose Range header asks for several ranges.
func multiRange(r *http.Request) bool {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	return ok && strings.Contains(spec, ",")
}
