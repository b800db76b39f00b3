package registryfaults

// Hostile answers: what a registry under an attacker's control (or a badly
// broken proxy) can send to exhaust a client's memory, make it loop, or
// rewrite the terminal it prints to. Each is a fault like enginetest's,
// to test that a client stays bounded:
//
//   - HugeErrorBody: an error document of any size, streamed;
//   - EscapeSequences: an error whose message carries terminal escapes;
//   - EndlessTagPages: a tag list whose Link header never ends;
//   - HugeTagList: one tag-list page of any size, streamed;
//   - OversizeManifest: a manifest over containers/image's 4 MiB limit;
//   - WrongContentType: the real answer with another Content-Type (an
//     HTML page's).
//
// Bodies are generated as they are written, so a fault of 50 MB costs the
// test process no memory.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/internal/replay"
)

// HostileEscapes is the message EscapeSequences sends: an OSC that sets
// the terminal's title, a bell, a screen clear, colours, and a carriage
// return and newline that would forge a second log line.
const HostileEscapes = "\x1b]0;owned\x07\x1b[2J\x1b[31mdenied\x1b[0m\r\nlevel=INFO msg=\"pull succeeded\" \u009b31m\u202eevil"

// HugeErrorBody answers the matching requests with status and a registry
// error document (code, e.g. "MANIFEST_UNKNOWN") whose message is size
// bytes of 'A'. The body is streamed with its Content-Length.
func HugeErrorBody(match enginetest.RequestMatcher, times int, status int, code string, size int64) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		head := `{"errors":[{"code":` + strconv.Quote(code) + `,"message":"`
		tail := `"}]}`
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+size+int64(len(tail)), 10))
		w.WriteHeader(status)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.WriteString(w, head)
		_, _ = io.Copy(w, io.LimitReader(repeatByte('A'), size))
		_, _ = io.WriteString(w, tail)
	})
}

// EscapeSequences answers the matching requests with status and a registry
// error document (code) whose message is HostileEscapes.
func EscapeSequences(match enginetest.RequestMatcher, times int, status int, code string) enginetest.RegistryOption {
	return enginetest.FailWith(match, times, status, code, HostileEscapes)
}

// EndlessTagPages answers every tag-list request with a page of perPage
// tags ("t<page>-<n>") and a Link header to the next page, forever.
func EndlessTagPages(perPage int) enginetest.RegistryOption {
	return enginetest.Intercept(enginetest.Kind(enginetest.TagsList), -1, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		page, _ := strconv.Atoi(r.URL.Query().Get("last"))
		tags := make([]string, perPage)
		for i := range tags {
			tags[i] = strconv.Quote(fmt.Sprintf("t%d-%d", page, i))
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%d>; rel="next"`, r.URL.Path, perPage, page+1))
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"name":%q,"tags":[%s]}`, tagsRepo(r), strings.Join(tags, ","))
	})
}

// HugeTagList answers every tag-list request with one page of size bytes
// (tags of 12 bytes each, the same 64 KiB written again and again),
// streamed, without a Link header.
func HugeTagList(size int64) enginetest.RegistryOption {
	var chunk bytes.Buffer
	for n := 0; chunk.Len() < 64<<10; n++ {
		fmt.Fprintf(&chunk, `,"t%08d"`, n)
	}
	return enginetest.Intercept(enginetest.Kind(enginetest.TagsList), -1, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", "application/json")
		head := fmt.Sprintf(`{"name":%q,"tags":["t"`, tagsRepo(r))
		_, _ = io.WriteString(w, head)
		for written := int64(len(head)); written < size; written += int64(chunk.Len()) {
			if _, err := w.Write(chunk.Bytes()); err != nil {
				return // the client gave up
			}
		}
		_, _ = io.WriteString(w, "]}")
	})
}

// OversizeManifest answers the matching manifest requests with 200 and a
// manifest of size bytes (an OCI manifest padded with an annotation), of
// the OCI manifest media type. containers/image refuses manifests over
// 4 MiB.
func OversizeManifest(match enginetest.RequestMatcher, times int, size int64) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		head := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":"`
		tail := `"}}`
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+size+int64(len(tail)), 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.WriteString(w, head)
		_, _ = io.Copy(w, io.LimitReader(repeatByte('p'), size))
		_, _ = io.WriteString(w, tail)
	})
}

// WrongContentType sends the real answer to the matching requests with its
// Content-Type replaced by contentType (e.g. "text/html; charset=utf-8", as a
// captive portal or a misconfigured proxy serves).
func WrongContentType(match enginetest.RequestMatcher, times int, contentType string) enginetest.RegistryOption {
	return enginetest.Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		rec.Header().Set("Content-Type", contentType)
		replay.WriteHead(w, rec)
		if r.Method != http.MethodHead {
			_, _ = w.Write(rec.Body.Bytes())
		}
	})
}

// repeatByte is an endless reader of one byte.
type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// tagsRepo is the repository of a tag-list request, from its path
// "/v2/<repo>/tags/list".
func tagsRepo(r *http.Request) string {
	repo, _ := strings.CutPrefix(r.URL.Path, "/v2/")
	repo, _ = strings.CutSuffix(repo, "/tags/list")
	return repo
}
