package enginetest

import (
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/pullengine/pullengine/internal/replay"
)

// Multi-range blob reads.
//
// A partial pull of a zstd:chunked layer asks for the chunks the store lacks
// in one request, "Range: bytes=a-b,c-d,...", and expects what real
// registries (and the S3 or CDN behind them) answer: 206 with a
// multipart/byteranges body, one part per range, in the order asked.
// ggcr's registry parses only the first range of such a header and would
// answer it alone, which c/image cannot use. serveMultiRanges, in front of
// every kit registry, answers multi-range blob GETs itself from the whole
// blob; single ranges go on to the registry (and openRanges) unchanged.
// The bytes it writes are counted by Requests.BlobBytes like any other blob
// body, part headers included, as a client would pay for them.

// byteRange is one range of a Range header, resolved against a blob's size:
// bytes first..last, both included.
type byteRange struct{ first, last int64 }

// isMultiRange reports whether r is a blob GET asking for several ranges.
func isMultiRange(r *http.Request) bool {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	return ok && KindOf(r) == BlobGet && strings.Contains(spec, ",")
}

// serveMultiRanges answers multi-range blob GETs with multipart/byteranges
// and passes every other request to next.
func serveMultiRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isMultiRange(r) {
			next.ServeHTTP(w, r)
			return
		}
		whole := r.Clone(r.Context())
		whole.Header.Del("Range")
		rec := replay.Record(next, whole)
		if rec.Code != http.StatusOK {
			replay.WriteHead(w, rec)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		blob := rec.Body.Bytes()
		ranges, err := parseRanges(r.Header.Get("Range"), int64(len(blob)))
		if err != nil {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(blob)))
			writeRegistryError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UNKNOWN", err.Error())
			return
		}
		writeByteRanges(w, rec.Header().Get("Docker-Content-Digest"), blob, ranges)
	})
}

// writeByteRanges writes a 206 multipart/byteranges answer: one part per
// range, in the order asked, never merged (c/image expects exactly one part
// per chunk it asked for).
func writeByteRanges(w http.ResponseWriter, dgst string, blob []byte, ranges []byteRange) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	if dgst != "" {
		w.Header().Set("Docker-Content-Digest", dgst)
	}
	w.WriteHeader(http.StatusPartialContent)
	for _, br := range ranges {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", br.first, br.last, len(blob))},
		})
		if err != nil {
			return
		}
		if _, err := part.Write(blob[br.first : br.last+1]); err != nil {
			return
		}
	}
	_ = mw.Close()
}

// parseRanges resolves a "bytes=" Range header against a blob of size bytes
// (RFC 9110 section 14.1.2): "a-b", "a-" (to the end) and "-n" (the last n
// bytes); a last position past the end is cut to the end. An unsatisfiable
// or malformed range is an error.
func parseRanges(header string, size int64) ([]byteRange, error) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return nil, fmt.Errorf("range %q is not in bytes", header)
	}
	var out []byteRange
	for _, one := range strings.Split(spec, ",") {
		br, err := parseRange(strings.TrimSpace(one), size)
		if err != nil {
			return nil, err
		}
		out = append(out, br)
	}
	return out, nil
}

func parseRange(s string, size int64) (byteRange, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return byteRange{}, fmt.Errorf("malformed range %q", s)
	}
	if from == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return byteRange{}, fmt.Errorf("unsatisfiable range %q", s)
		}
		return byteRange{max(size-n, 0), size - 1}, nil
	}
	first, err := strconv.ParseInt(from, 10, 64)
	if err != nil || first < 0 || first >= size {
		return byteRange{}, fmt.Errorf("unsatisfiable range %q of %d bytes", s, size)
	}
	last := size - 1
	if to != "" {
		l, err := strconv.ParseInt(to, 10, 64)
		if err != nil || l < first {
			return byteRange{}, fmt.Errorf("malformed range %q", s)
		}
		last = min(l, size-1)
	}
	return byteRange{first, last}, nil
}
