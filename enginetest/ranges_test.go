package enginetest_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/pullengine/pullengine/enginetest"
)

// pushBlob pushes a one-layer image and returns the URL and content of its
// layer blob, as the registry stores it.
func pushBlob(t *testing.T, reg *enginetest.Registry, fileSize int) (url string, blob []byte) {
	t.Helper()
	img := reg.Push(t, "a/b:v1", enginetest.RandomFiles("f", 1, 3, fileSize))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	blob, _ = io.ReadAll(rc)
	return fmt.Sprintf("http://%s/v2/a/b/blobs/%s", reg.Host, d), blob
}

func rangeGet(t *testing.T, url, ranges string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", ranges)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// A multi-range GET gets 206 multipart/byteranges, one part per range in
// the order asked (overlapping ranges are not merged), each with its
// Content-Range; the bytes are counted as served.
func TestRegistryServesMultiRange(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	url, blob := pushBlob(t, reg, 4096)
	size := len(blob)
	resp := rangeGet(t, url, fmt.Sprintf("bytes=10-19,5-7,%d-,-4,0-3", size-3))
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("status %d, content type %q (%v)", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	want := []struct{ first, last int }{{10, 19}, {5, 7}, {size - 3, size - 1}, {size - 4, size - 1}, {0, 3}}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		got, _ := io.ReadAll(p)
		if cr := fmt.Sprintf("bytes %d-%d/%d", w.first, w.last, size); p.Header.Get("Content-Range") != cr || !bytes.Equal(got, blob[w.first:w.last+1]) {
			t.Errorf("part %d: Content-Range %q, %d bytes; want %q and the blob's bytes", i, p.Header.Get("Content-Range"), len(got), cr)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more parts than ranges: %v", err)
	}
	if n := reg.Requests.BlobBytes(); n < 10+3+3+4+4 || n > 1000 {
		t.Errorf("BlobBytes = %d, want the parts and their headers", n)
	}

	// A range past the end: 416. A single range: the registry's own answer.
	if resp := rangeGet(t, url, fmt.Sprintf("bytes=0-1,%d-", size)); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: status %d, want 416", resp.StatusCode)
	}
	resp = rangeGet(t, url, "bytes=2-5")
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, blob[2:6]) {
		t.Errorf("single range: status %d, %q", resp.StatusCode, got)
	}
}

// Throttle paces bodies: a blob cannot arrive faster than the link allows
// (a lower bound only; the upper depends on the machine).
func TestThrottle(t *testing.T) {
	const rate = 256 << 10
	reg := enginetest.NewRegistry(t, enginetest.Throttle(rate))
	url, blob := pushBlob(t, reg, 40<<10)
	start := time.Now()
	resp := rangeGet(t, url, "bytes=0-")
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, blob) {
		t.Fatalf("got %d bytes, want the %d of the blob", len(got), len(blob))
	}
	// The first slice goes out at once; every later one waits its turn.
	if min := time.Duration(float64(len(blob)-16<<10) / rate * float64(time.Second)); time.Since(start) < min {
		t.Errorf("%d bytes at %d B/s took %v, less than %v", len(blob), rate, time.Since(start), min)
	}
}
