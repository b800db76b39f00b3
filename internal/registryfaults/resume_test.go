package registryfaults_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/internal/registryfaults"
)

// RefuseMultiRange answers 400 to multi-range GETs only; a single range
// still gets its 206.
func TestRefuseMultiRange(t *testing.T) {
	reg := enginetest.NewRegistry(t, registryfaults.RefuseMultiRange())
	img := reg.Push(t, "a/b:v1", enginetest.RandomFiles("f", 1, 3, 4096))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/v2/a/b/blobs/%s", reg.Host, d)

	if status, _ := rangeGet(t, url, "bytes=0-1,4-5"); status != http.StatusBadRequest {
		t.Errorf("multi-range: status %d, want 400", status)
	}
	if status, got := rangeGet(t, url, "bytes=0-1"); status != http.StatusPartialContent || !bytes.Equal(got, blob[:2]) {
		t.Errorf("single range: status %d, %q", status, got)
	}
}

// rangeGet asks url for ranges and returns the answer's status and body.
func rangeGet(t *testing.T, url, ranges string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", ranges)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
