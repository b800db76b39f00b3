package fetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/blobresume"
)

// cutOpener serves blob from the offset asked (or from 0 when whole is
// set: a source that ignores ranges), ending every answer after per bytes
// with an unexpected EOF. It counts the opens.
type cutOpener struct {
	blob  []byte
	per   int
	whole bool
	opens int
}

func (c *cutOpener) open(_ context.Context, off int64) (*Body, error) {
	c.opens++
	start := off
	if c.whole {
		start = 0
	}
	rest := c.blob[start:]
	r := io.Reader(bytes.NewReader(rest))
	if c.per < len(rest) {
		r = io.MultiReader(bytes.NewReader(rest[:c.per]), eofReader{})
	}
	return &Body{ReadCloser: io.NopCloser(r), Start: start, Length: int64(len(rest))}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestOpenReconnects(t *testing.T) {
	b := make([]byte, 3<<20)
	_, _ = rand.Read(b)
	d := digest.FromBytes(b)
	for _, tc := range []struct {
		name     string
		src      cutOpener
		ok       bool
		maxOpens int
	}{
		{"progress on every connection", cutOpener{per: 3 << 19}, true, 2},
		{"one byte per connection", cutOpener{per: 1}, false, MaxReconnects + 1},
		{"whole blob again, cut before new bytes", cutOpener{per: 1 << 20, whole: true}, false, MaxReconnects + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := blobresume.New(filepath.Join(t.TempDir(), "partials"))
			if err != nil {
				t.Fatal(err)
			}
			src := tc.src
			src.blob = b
			rc, _, err := Open(context.Background(), Blob{Digest: d, Size: int64(len(b)), Open: src.open}, Config{Partials: store})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if tc.ok {
				if err != nil || !bytes.Equal(got, b) {
					t.Fatalf("read %d bytes, %v; want the blob", len(got), err)
				}
			} else if k := pullerrors.Classify(err); k != pullerrors.Unavailable {
				t.Fatalf("kind %v, want Unavailable: %v", k, err)
			}
			if src.opens > tc.maxOpens {
				t.Errorf("%d opens, want at most %d", src.opens, tc.maxOpens)
			}
		})
	}
}
