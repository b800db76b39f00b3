package fetch

// The ranged GET that resumes a blob at byte N.
//
// Why our own request: containers/image's registry client is internal; its
// only ranged reads are GetBlobAt (a private interface, unreachable from
// here, which hides the status: a 200 is split silently) and body_reader's
// one in-process reconnect with an open range ("bytes=N-", refused by
// go-containerregistry's registry). So the first request for a blob is
// whatever opens it whole (for copy.Image's source, containers/image's
// GetBlob: mirrors, auth, TLS exactly as for any pull), and only a resume
// at N > 0 goes through internal/registryclient, configured as
// containers/image is. Anything it cannot do (a challenge it cannot
// answer, a client that cannot be made) makes the resume fall back to the
// whole blob, skipping the first N bytes: slower, never wrong.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/registryclient"
)

// Ranged returns the Opener of blob d (of declared size) that opens it
// whole at offset 0 and asks client for the rest with a closed range at an
// offset N > 0. client is called once per resume; an error from it, a
// failed request or a 206 that is not exactly the range asked makes the
// Opener fall back to whole (whose answer starts at 0: the reader discards
// the first N bytes). A 200 to the range is returned as the whole blob.
func Ranged(client func() (*registryclient.Client, error), d digest.Digest, size int64, whole Opener, log *slog.Logger) Opener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, off int64) (*Body, error) {
		if off == 0 {
			return whole(ctx, 0)
		}
		c, err := client()
		if err != nil {
			log.DebugContext(ctx, "no ranged requests to this registry", "err", err)
			return whole(ctx, off)
		}
		res, err := rangeGet(ctx, c, d, off, size)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			log.DebugContext(ctx, "ranged request failed", "digest", d, "err", err)
			return whole(ctx, off)
		}
		if res.StatusCode == http.StatusPartialContent {
			if err := checkContentRange(res, off, size); err != nil {
				registryclient.Drain(res)
				log.DebugContext(ctx, "bad ranged answer", "digest", d, "err", err)
				return whole(ctx, off)
			}
			return &Body{ReadCloser: res.Body, Start: off, Length: res.ContentLength}, nil
		}
		return &Body{ReadCloser: res.Body, Start: 0, Length: res.ContentLength}, nil // 200: the whole blob
	}
}

// rangeGet asks for bytes [from, size) of blob d with a closed range. It
// returns the response (status 206 or 200, other statuses are errors) with
// its body open.
func rangeGet(ctx context.Context, c *registryclient.Client, d digest.Digest, from, size int64) (*http.Response, error) {
	h := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", from, size-1)}}
	res, err := c.Get(ctx, "/v2/"+c.Repository()+"/blobs/"+d.String(), h)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		defer registryclient.Drain(res)
		return nil, fmt.Errorf("resuming blob %s: %w", d, registryclient.ResponseError(res))
	}
	return res, nil
}

// checkContentRange accepts a 206 only if it carries exactly the range
// asked: "bytes from-(size-1)/size" (or "/*"), and a matching length.
func checkContentRange(res *http.Response, from, size int64) error {
	want := fmt.Sprintf("bytes %d-%d/", from, size-1)
	cr := res.Header.Get("Content-Range")
	total, ok := strings.CutPrefix(cr, want)
	if !ok || (total != "*" && total != strconv.FormatInt(size, 10)) {
		return fmt.Errorf("the registry answered range %q, asked %s%d", pullerrors.Truncate(cr, 100), want, size)
	}
	if res.ContentLength >= 0 && res.ContentLength != size-from {
		return fmt.Errorf("the registry announced %d bytes for a range of %d", res.ContentLength, size-from)
	}
	return nil
}
