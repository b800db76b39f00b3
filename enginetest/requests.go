package enginetest

import (
	"net/http"
	"strings"
	"sync"
)

// RequestKind classifies a registry request by what it asks for.
type RequestKind string

// The request kinds a Registry counts.
const (
	Ping         RequestKind = "ping"          // GET/HEAD /v2/
	ManifestHead RequestKind = "manifest-head" // HEAD /v2/<name>/manifests/<ref>
	ManifestGet  RequestKind = "manifest-get"  // GET /v2/<name>/manifests/<ref>
	BlobHead     RequestKind = "blob-head"     // HEAD /v2/<name>/blobs/<digest>
	BlobGet      RequestKind = "blob-get"      // GET /v2/<name>/blobs/<digest>
	TagsList     RequestKind = "tags-list"     // GET /v2/<name>/tags/list
	Token        RequestKind = "token"         // the token endpoint
	Other        RequestKind = "other"         // pushes and anything else
)

// KindOf classifies a registry request, as Requests counts it.
func KindOf(r *http.Request) RequestKind {
	p := r.URL.Path
	switch {
	case p == tokenPath:
		return Token
	case p == "/v2/" || p == "/v2":
		return Ping
	case strings.Contains(p, "/manifests/") && r.Method == http.MethodHead:
		return ManifestHead
	case strings.Contains(p, "/manifests/") && r.Method == http.MethodGet:
		return ManifestGet
	case strings.Contains(p, "/blobs/") && r.Method == http.MethodHead && !strings.Contains(p, "/uploads/"):
		return BlobHead
	case strings.Contains(p, "/blobs/") && r.Method == http.MethodGet && !strings.Contains(p, "/uploads/"):
		return BlobGet
	case strings.HasSuffix(p, "/tags/list"):
		return TagsList
	}
	return Other
}

// Requests counts the requests a registry served, by kind, and the bytes of
// blob bodies it sent.
type Requests struct {
	mu        sync.Mutex
	counts    map[RequestKind]int
	log       []string
	blobBytes int64
}

func (q *Requests) record(r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.counts == nil {
		q.counts = map[RequestKind]int{}
	}
	q.counts[KindOf(r)]++
	q.log = append(q.log, r.Method+" "+r.URL.Path)
}

func (q *Requests) addBlobBytes(n int64) {
	q.mu.Lock()
	q.blobBytes += n
	q.mu.Unlock()
}

// Count returns how many requests of kind k were served.
func (q *Requests) Count(k RequestKind) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[k]
}

// Counts returns a copy of the counts by kind; kinds never requested are
// absent, so a test can compare the whole map.
func (q *Requests) Counts() map[RequestKind]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[RequestKind]int, len(q.counts))
	for k, v := range q.counts {
		out[k] = v
	}
	return out
}

// Total is the number of requests of every kind.
func (q *Requests) Total() int {
	n := 0
	for _, v := range q.Counts() {
		n += v
	}
	return n
}

// BlobBytes is the number of blob body bytes served.
func (q *Requests) BlobBytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.blobBytes
}

// Log lists the requests served, as "METHOD /path", in order.
func (q *Requests) Log() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.log...)
}

// Reset forgets everything counted so far.
func (q *Requests) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.counts, q.log, q.blobBytes = nil, nil, 0
}

// Middleware counts each request next serves and the blob bytes it
// writes: for counting in front of registries the kit did not start.
func (q *Requests) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.record(r)
		if KindOf(r) == BlobGet {
			w = &byteCounter{ResponseWriter: w, q: q}
		}
		next.ServeHTTP(w, r)
	})
}

type byteCounter struct {
	http.ResponseWriter
	q *Requests
}

func (b *byteCounter) Write(p []byte) (int, error) {
	n, err := b.ResponseWriter.Write(p)
	b.q.addBlobBytes(int64(n))
	return n, err
}

// Flush passes flushes through, so fault middleware can send partial
// bodies.
func (b *byteCounter) Flush() { _ = http.NewResponseController(b.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (b *byteCounter) Unwrap() http.ResponseWriter { return b.ResponseWriter }
