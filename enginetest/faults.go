package enginetest

// Faults are middleware (WithMiddleware) in front of the registry: each
// answers the requests a RequestMatcher selects, at most a given number of
// times, and lets every other request through to the real registry. What a
// fault can do:
//
//   - answer with a registry error (FailWith) or with a recorded response
//     of a real registry, status, headers and body (Respond, ReadResponse);
//   - damage the real answer: cut the body short (TruncateBody), reset the
//     connection in the middle of it (ResetConnection), change one byte so
//     that the digest no longer matches (CorruptBody);
//   - never answer, until the client gives up (Stall).
//
// WithTLS serves the registry over HTTPS with a certificate nobody trusts
// unless told to (CertDir).

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/pullengine/pullengine/internal/replay"
)

// RequestMatcher selects the requests a fault applies to.
type RequestMatcher func(*http.Request) bool

// Kind matches requests of the given kinds.
func Kind(kinds ...RequestKind) RequestMatcher {
	return func(r *http.Request) bool {
		k := KindOf(r)
		for _, want := range kinds {
			if k == want {
				return true
			}
		}
		return false
	}
}

// Blob matches the GET requests for the blob d (in any repository).
func Blob(d digest.Digest) RequestMatcher {
	return func(r *http.Request) bool {
		return KindOf(r) == BlobGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String())
	}
}

// And matches the requests every one of ms matches. A plain func(*http.Request) bool
// is a matcher too, e.g. one that holds a fault back until a test arms it.
func And(ms ...RequestMatcher) RequestMatcher {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}

// Intercept is the fault every other one is built on: answer handles the
// first times requests that match (times < 0: all of them), next being the
// real registry behind; the others go to next unchanged. Requests that do
// not match do not count towards times.
func Intercept(match RequestMatcher, times int, answer func(w http.ResponseWriter, r *http.Request, next http.Handler)) RegistryOption {
	var n atomic.Int64
	return WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && (times < 0 || n.Add(1) <= int64(times)) {
				answer(w, r, next)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
}

// FailWith answers the matching requests with status and a registry error
// body carrying code (e.g. "MANIFEST_UNKNOWN") and message. times bounds
// how many requests fail (then they pass); times < 0 fails them all.
func FailWith(match RequestMatcher, times int, status int, code, message string) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		writeRegistryError(w, status, code, message)
	})
}

// Response is a registry's answer: status, headers and body, as recorded
// in testdata/registry-responses.
//
// In the header values and the body, three placeholders stand for what
// depends on the test's registry and request:
//
//	{{realm}}  the registry's token endpoint, "http://127.0.0.1:port/token"
//	           (https with WithTLS), for WWW-Authenticate challenges
//	{{host}}   the registry's host:port
//	{{repo}}   the repository asked for, e.g. "team/app" (from the path, or
//	           from the scope of a token request)
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// ReadResponse reads a recorded response from a file holding an HTTP/1.1
// response as `curl -si` prints it: the status line, the headers, an empty
// line, the body. A Content-Length header is dropped (the body's length
// changes with the placeholders).
func ReadResponse(path string) (*Response, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
	if err != nil {
		return nil, fmt.Errorf("parsing the recorded response %s: %w", path, err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(res.Body); err != nil {
		return nil, fmt.Errorf("reading the body of the recorded response %s: %w", path, err)
	}
	res.Header.Del("Content-Length")
	return &Response{Status: res.StatusCode, Header: res.Header, Body: body.Bytes()}, nil
}

// LoadResponse is ReadResponse that fails the test on error.
func LoadResponse(t testing.TB, path string) *Response {
	t.Helper()
	res, err := ReadResponse(path)
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	return res
}

// Respond answers the matching requests with resp (placeholders filled in),
// at most times of them (times < 0: all).
func Respond(match RequestMatcher, times int, resp *Response) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		resp.write(w, r)
	})
}

func (resp *Response) write(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	fill := strings.NewReplacer(
		"{{realm}}", scheme+"://"+r.Host+tokenPath,
		"{{host}}", r.Host,
		"{{repo}}", repoOf(r),
	)
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, fill.Replace(v))
		}
	}
	body := fill.Replace(string(resp.Body))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// repoOf is the repository a request is about: from the /v2/ path, or from
// the scope of a token request ("repository:team/app:pull").
func repoOf(r *http.Request) string {
	scope := scopeOf(r.URL.Path)
	if scope == "" {
		scope = r.URL.Query().Get("scope")
	}
	name, _ := strings.CutPrefix(scope, "repository:")
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return name
}

// TruncateBody sends the real answer's status and headers, announcing the
// whole body's length, then only the first half of the body, and closes the
// connection: the client reads an unexpected EOF.
func TruncateBody(match RequestMatcher, times int) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		replay.WriteHead(w, rec)
		_, _ = w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
		// Returning short of Content-Length makes net/http close the
		// connection rather than reuse it.
	})
}

// ResetConnection sends the real answer's status, headers and the first
// half of its body, then resets the TCP connection (RST, not FIN): the
// client reads "connection reset by peer".
func ResetConnection(match RequestMatcher, times int) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		replay.WriteHead(w, rec)
		_, _ = w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		conn, _, err := rc.Hijack()
		if err != nil {
			panic(fmt.Sprintf("enginetest: ResetConnection cannot hijack the connection: %v", err))
		}
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn()
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close with RST
		}
		_ = conn.Close()
	})
}

// CorruptBody sends the real answer with one byte of its body changed, same
// length: a blob whose content no longer matches its digest. In a gzip
// blob the byte changed is in the header's modification time, so the blob
// still decompresses and only the digest check can tell.
func CorruptBody(match RequestMatcher, times int) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := replay.Record(next, r)
		body := bytes.Clone(rec.Body.Bytes())
		switch {
		case len(body) >= 10 && body[0] == 0x1f && body[1] == 0x8b: // gzip: MTIME is bytes 4-7
			body[4] ^= 0xff
		case len(body) > 0:
			body[len(body)-1] ^= 0xff
		}
		rec.Body = bytes.NewBuffer(body)
		replay.WriteHead(w, rec)
		_, _ = w.Write(body)
	})
}

// stallLimit bounds how long Stall holds a request whose client never gives
// up, so that a broken test cannot hang the registry's shutdown.
const stallLimit = time.Minute

// Stall never answers the matching requests: it holds each until its
// client gives up (closes the connection, for instance at its context's
// deadline), as a registry that hangs. After a minute it answers 504.
func Stall(match RequestMatcher, times int) RegistryOption {
	return Intercept(match, times, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		t := time.NewTimer(stallLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
			writeRegistryError(w, http.StatusGatewayTimeout, "UNAVAILABLE", "enginetest: Stall held the request for "+stallLimit.String())
		}
	})
}

// WithTLS serves the registry over HTTPS with a self-signed certificate for
// 127.0.0.1. Clients do not trust it unless told to: give them
// Registry.CertDir (containers-certs.d(5): PullOptions.CertDir), or
// Registry.CACertPEM. The engine of WithRegistry skips verification (the
// registry is marked insecure there); to test trust, name the registry by
// its host without WithRegistry. WithTokenAuth's realm stays plain http, so
// the two do not combine.
func WithTLS() RegistryOption {
	return func(c *registryConfig) { c.tls = true }
}

// CACertPEM is the certificate (PEM) of a WithTLS registry, nil otherwise.
func (r *Registry) CACertPEM() []byte { return bytes.Clone(r.caPEM) }

// CertDir writes the certificate of a WithTLS registry as ca.crt into a new
// temporary directory and returns it: a directory for PullOptions.CertDir
// (c/image reads *.crt files there as CAs).
func (r *Registry) CertDir(t testing.TB) string {
	t.Helper()
	if r.caPEM == nil {
		t.Fatal("enginetest: CertDir of a registry without WithTLS")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), r.caPEM, 0o600); err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	return dir
}

// selfSignedTLS makes a key and a self-signed certificate for 127.0.0.1.
func selfSignedTLS(t testing.TB) (*tls.Config, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"enginetest"}, CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// openRanges serves blob GETs with an open-ended Range ("bytes=N-", which
// containers/image sends to resume a blob whose body broke off) as real
// registries do: 206 with the rest of the blob. go-containerregistry's
// registry understands only "bytes=N-M".
func openRanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
		from, open := strings.CutSuffix(spec, "-")
		start, err := strconv.ParseInt(from, 10, 64)
		if KindOf(r) != BlobGet || !ok || !open || err != nil || start < 0 {
			next.ServeHTTP(w, r)
			return
		}
		whole := r.Clone(r.Context())
		whole.Header.Del("Range")
		rec := replay.Record(next, whole)
		size := int64(rec.Body.Len())
		if rec.Code != http.StatusOK || start >= size {
			if rec.Code == http.StatusOK {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				writeRegistryError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UNKNOWN", "range starts after the blob's end")
				return
			}
			replay.WriteHead(w, rec)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		rest := rec.Body.Bytes()[start:]
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, size-1, size))
		w.Header().Set("Content-Length", strconv.Itoa(len(rest)))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(rest)
	})
}
