package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/blobresume"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/progress"
)

// Body is an Opener's answer: the blob's bytes from Start on.
type Body struct {
	io.ReadCloser
	// Start is the offset of Body's first byte: the offset asked, or 0
	// when the source sent the whole blob (a registry that ignored a
	// range, a source that cannot do ranges). Any other value is refused.
	Start int64
	// Length is the number of bytes the source announced (Content-Length),
	// -1 when unknown.
	Length int64
}

// Opener returns the blob's bytes from offset on (offset 0: the whole
// blob). It is the seam between the reader and whoever knows the
// registry; ctx ends the request and its body.
type Opener func(ctx context.Context, offset int64) (*Body, error)

// Blob is one blob to read.
type Blob struct {
	Digest digest.Digest
	// Size is the declared size (from the manifest); -1 when unknown. A
	// blob of unknown size is read as it comes and never kept.
	Size int64
	// Open opens the blob's bytes; see Ranged.
	Open Opener
	// Layer: the blob is a layer, whose unpacked size Config.Counter
	// counts.
	Layer bool
}

// Config is what the reader needs of its caller; the engine makes one per
// pull. The zero value reads blobs without keeping them, without a
// watchdog, without events.
type Config struct {
	// Partials keeps the bytes of blobs being received; nil: blobs are
	// read once, from byte 0, and nothing is kept.
	Partials *blobresume.Store
	// Stall is how long a connection may deliver nothing before it is
	// replaced; <= 0: no watchdog.
	Stall time.Duration
	// Log receives the reader's debug and warning lines; nil: discarded.
	Log *slog.Logger
	// Emit receives BlobResumed and BlobReconnected events; may be nil.
	Emit func(progress.Event)
	// Discarded is called when a partial that was resumed proved bad and
	// was removed: the consumer's failure on this blob is then an
	// integrity failure (the next attempt starts over); may be nil.
	Discarded func()
	// Counter counts what layers unpack to, against limits; nil: no
	// counting.
	Counter *Counter
	// Peer names what sends the blobs, for messages ("the source" for a
	// local file, which is no registry); empty: "the registry".
	Peer string
}

// peer is Config.Peer or its default.
func (c Config) peer() string {
	if c.Peer == "" {
		return "the registry"
	}
	return c.Peer
}

// Bounds of the reader.
const (
	// MinResumableSize: smaller blobs (configs, tiny layers) are fetched
	// whole again; keeping them costs more than it saves.
	MinResumableSize = 256 << 10
	// BusyWait is how long a reader waits for a partial another reader
	// holds (a canceled pull may still be closing it) before it downloads
	// the blob without one.
	BusyWait = time.Second
	// MaxReconnects bounds the reconnections in a row without progress,
	// for one blob in one Open: a blob takes at most MaxReconnects+1 GETs
	// that make no progress before it fails.
	MaxReconnects = 5
	// MinProgress is the number of new bytes a connection must bring to
	// count as progress (containers/image's in-process reconnect asks the
	// same 1 MiB).
	MinProgress = 1 << 20
)

// Open starts reading blob b. It returns the stream of the blob from its
// first byte, and the blob's size as the source announced it (-1 when
// unknown). A blob big enough to be kept (and of a known size) is resumable:
// see the package doc. Close the stream in every case.
func Open(ctx context.Context, b Blob, cfg Config) (io.ReadCloser, int64, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	rc, size, err := open(ctx, b, cfg)
	if err != nil {
		return nil, 0, err
	}
	if b.Layer && cfg.Counter != nil {
		rc = cfg.Counter.wrap(rc, b.Digest)
	}
	return rc, size, nil
}

// open picks the resumable or the plain path.
func open(ctx context.Context, b Blob, cfg Config) (io.ReadCloser, int64, error) {
	if cfg.Partials != nil && b.Size >= MinResumableSize && blobresume.Supported(b.Digest, b.Size) {
		p, err := cfg.Partials.OpenWait(ctx, b.Digest, b.Size, BusyWait)
		switch {
		case err == nil:
			return resumable(ctx, b, cfg, p)
		case !errors.Is(err, blobresume.ErrBusy):
			cfg.Log.Warn("cannot keep a partial download", "digest", b.Digest, "err", err)
		}
	}
	body, err := b.Open(ctx, 0)
	if err != nil {
		return nil, 0, err
	}
	if err := checkAnnouncedSize(b, body.Length, cfg.peer()); err != nil {
		body.Close()
		return nil, 0, err
	}
	return sized(body.ReadCloser, b, cfg.peer()), body.Length, nil
}

// emit sends ev if the caller listens.
func (c Config) emit(ev progress.Event) {
	if c.Emit != nil {
		c.Emit(ev)
	}
}

// checkAnnouncedSize refuses a body announced longer than the blob's
// declared size, before reading it. A shorter one is read: the digest
// check decides (a manifest may declare a wrong size for the content its
// digest names; containers/image accepts that).
func checkAnnouncedSize(b Blob, announced int64, peer string) error {
	if b.Size >= 0 && announced > b.Size {
		return oversizeError(b.Digest, fmt.Sprintf("%s announced %d bytes for a blob declared as %d", peer, announced, b.Size))
	}
	return nil
}

// oversizeError is the integrity error of a body that does not match the
// declared size. Retrying would fetch the same body: not retried.
func oversizeError(d digest.Digest, what string) error {
	return engineerr.Final(pullerrors.Errorf(pullerrors.Integrity, "blob %s: %s", d, what))
}

// sized bounds rc, a body peer sends, by the blob's declared size, if
// known.
func sized(rc io.ReadCloser, b Blob, peer string) io.ReadCloser {
	if b.Size < 0 {
		return rc
	}
	return &sizedBlob{ReadCloser: rc, d: b.Digest, left: b.Size, peer: peer}
}

// sizedBlob stops at the declared size, and fails if the body goes on.
type sizedBlob struct {
	io.ReadCloser
	d    digest.Digest
	left int64
	peer string // who sends it, for messages
}

// Read reads at most the declared size; past it, one more byte is an error.
func (b *sizedBlob) Read(p []byte) (int, error) {
	if b.left == 0 {
		var one [1]byte
		n, err := io.ReadFull(b.ReadCloser, one[:])
		if n > 0 {
			return 0, oversizeError(b.d, b.peer+" sent more bytes than the declared size")
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left == 0 {
		err = nil // the check for extra bytes comes with the next Read
	}
	return n, err
}
