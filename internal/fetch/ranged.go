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
// at N > 0 goes through internal/registryclient, to the pull sources
// containers/image uses for the name (mirrors, then the rewritten
// location), each configured as containers/image configures it. Anything
// it cannot do (a challenge it cannot answer, no source that answers)
// makes the resume fall back to the whole blob, skipping the first N
// bytes: slower, never wrong.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/registryclient"
	"github.com/pullengine/pullengine/internal/safetext"
)

// Ranged returns the Opener of blob d (of declared size) that opens it
// whole at offset 0 and, at an offset N > 0, asks the clients in order for
// the rest with a closed range: the first 206 with exactly the range asked
// (or 200, returned as the whole blob) wins. clients is called once per
// resume (registryclient.ForPull gives the pull's sources in
// containers/image's order); when it fails, or no client answers, the
// Opener falls back to whole (whose answer starts at 0: the reader
// discards the first N bytes).
func Ranged(clients func() ([]*registryclient.Client, error), d digest.Digest, size int64, whole Opener, log *slog.Logger) Opener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, off int64) (*Body, error) {
		if off == 0 {
			return whole(ctx, 0)
		}
		cs, err := clients()
		if err != nil {
			log.DebugContext(ctx, "no ranged requests to this registry", "err", err)
			return whole(ctx, off)
		}
		for _, c := range cs {
			body, err := ranged(ctx, c, d, off, size)
			if err == nil {
				return body, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
			log.DebugContext(ctx, "ranged request failed", "digest", d, "registry", c.Host(), "err", err)
		}
		return whole(ctx, off)
	}
}

// ranged asks c for the bytes of d from off: a 206 with exactly that range,
// or a 200 (the whole blob).
func ranged(ctx context.Context, c *registryclient.Client, d digest.Digest, off, size int64) (*Body, error) {
	res, err := rangeGet(ctx, c, d, off, size)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusPartialContent {
		if err := checkContentRange(res, off, size); err != nil {
			registryclient.Drain(res)
			return nil, err
		}
		return &Body{ReadCloser: res.Body, Start: off, Length: res.ContentLength}, nil
	}
	return &Body{ReadCloser: res.Body, Start: 0, Length: res.ContentLength}, nil // 200: the whole blob
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
		return fmt.Errorf("the registry answered range %q, asked %s%d", safetext.Truncate(cr, 100), want, size)
	}
	if res.ContentLength >= 0 && res.ContentLength != size-from {
		return fmt.Errorf("the registry announced %d bytes for a range of %d", res.ContentLength, size-from)
	}
	return nil
}
