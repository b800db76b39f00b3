package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/blobresume"
	"github.com/pullengine/pullengine/progress"
)

// resumingBlob is the stream of a resumable blob, from its first byte:
// first the bytes an earlier attempt kept (replayed from disk, never
// re-hashed), then the network. Every network byte is appended to the
// partial before it is handed on. A broken or stalled connection is
// replaced by a ranged request for the rest, up to MaxReconnects times in
// a row without progress (see the package doc's progress rule). The last byte completes the partial: its digest
// is checked and its files removed.
type resumingBlob struct {
	ctx  context.Context
	blob Blob
	cfg  Config
	p    *blobresume.Partial

	replay io.Reader // the kept prefix
	left   int64     // prefix bytes not replayed yet

	body    io.ReadCloser
	cancel  context.CancelFunc // ends body's request
	dog     *time.Timer        // the stall watchdog of body
	stalled atomic.Bool
	skip    int64 // bytes of body to discard (a 200 to a ranged request)
	skipAt  int64 // where the discarded bytes end

	short     io.ReadCloser // the body of a blob shorter than declared
	shortSize int64

	connected bool  // a connection was made for this blob
	fresh     int64 // new bytes (kept, not discarded) of the current connection
	fails     int   // connections in a row that made no progress
	pending   error // the end of a connection whose last bytes were handed on
	err       error
}

// resumable opens the stream of a blob whose partial p is locked.
func resumable(ctx context.Context, blob Blob, cfg Config, p *blobresume.Partial) (io.ReadCloser, int64, error) {
	b := &resumingBlob{ctx: ctx, blob: blob, cfg: cfg, p: p, replay: p.Prefix(), left: p.Offset()}
	if p.Offset() > 0 {
		cfg.emit(progress.Event{Kind: progress.BlobResumed, Digest: blob.Digest, Current: p.Offset(), Total: blob.Size,
			Message: fmt.Sprintf("resumed at %d bytes", p.Offset())})
		cfg.Log.InfoContext(ctx, "resuming a blob", "digest", blob.Digest, "offset", p.Offset(), "size", blob.Size)
	}
	// Connect now, before the prefix is replayed: the registry starts
	// sending the rest at once, however large the prefix.
	if p.Offset() < p.Size() {
		if err := b.firstConnect(); errors.Is(err, errShortBody) {
			// Declared bigger than the registry's blob: nothing to
			// resume against; the digest check decides.
			p.Discard()
			b.p = nil
			return sized(b.short, blob, cfg.peer()), b.shortSize, nil
		} else if err != nil {
			return nil, 0, b.fail(err)
		}
	}
	return b, blob.Size, nil
}

// firstConnect opens the blob's first connection. A registry that does not
// answer within the stall timeout is reconnected as a stalled body would
// be; any other failure is returned for the caller's retry to judge.
func (b *resumingBlob) firstConnect() error {
	for {
		err := b.connect()
		if err == nil || errors.Is(err, errShortBody) {
			return err
		}
		if !b.stalled.Load() || !b.retryable(err) {
			return err
		}
	}
}

// Read hands on the prefix, then the network bytes.
func (b *resumingBlob) Read(out []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.read(out)
	if err == nil && b.p != nil && b.left == 0 && b.p.Offset() == b.p.Size() {
		// Complete: check the digest (of a resumed blob) before its last
		// bytes are handed on, so a bad partial never reaches the store.
		if ferr := b.finish(); ferr != io.EOF {
			return 0, ferr
		}
	}
	return n, err
}

func (b *resumingBlob) read(out []byte) (int, error) {
	if b.left > 0 {
		if int64(len(out)) > b.left {
			out = out[:b.left]
		}
		n, err := b.replay.Read(out)
		b.left -= int64(n)
		if err != nil && !(err == io.EOF && b.left == 0) {
			return n, b.fail(pullerrors.Errorf(pullerrors.Storage, "reading the partial blob %s: %w", b.blob.Digest, err))
		}
		return n, nil
	}
	if err := b.pending; err != nil {
		b.pending = nil
		return 0, b.fail(err)
	}
	for {
		if b.p.Offset() == b.p.Size() {
			return 0, b.finish()
		}
		if b.body == nil {
			if err := b.connect(); err != nil {
				if b.retryable(err) {
					continue
				}
				return 0, b.fail(err)
			}
		}
		n, err := b.readBody(out)
		if err != nil {
			if errors.Is(err, blobresume.ErrOversize) {
				return 0, b.fail(oversizeError(b.blob.Digest, "the registry sent more bytes than the declared size"))
			}
			b.dropBody()
			if err = b.stallError(err); !b.retryable(err) {
				if n > 0 { // hand them on; the error comes with the next Read
					b.pending = err
					return n, nil
				}
				return 0, b.fail(err)
			}
		}
		if n > 0 {
			return n, nil
		}
	}
}

// retryable counts a connection that ended (or could not be made) and
// says whether another may be tried: not when the caller gave up, not for
// an error a new connection cannot cure, not after MaxReconnects
// connections in a row without progress. A connection made progress when
// it brought at least MinProgress new bytes.
func (b *resumingBlob) retryable(err error) bool {
	if b.ctx.Err() != nil {
		return false
	}
	if !b.stalled.Load() && !pullerrors.Retryable(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	if b.fresh >= MinProgress {
		b.fails = 0
	}
	b.fresh = 0
	b.fails++
	b.cfg.Log.DebugContext(b.ctx, "blob connection lost", "digest", b.blob.Digest, "offset", b.p.Offset(), "stalled", b.stalled.Load(), "err", err)
	if b.fails > MaxReconnects {
		return false
	}
	b.stalled.Store(false)
	t := time.NewTimer(time.Duration(b.fails-1) * 100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.ctx.Done():
		return false
	}
	return true
}

// stallError replaces the cancellation the watchdog caused with what it
// means: the registry sent nothing for the stall timeout (a Timeout, which
// a retry may cure). Any other error is returned as is.
func (b *resumingBlob) stallError(err error) error {
	if !b.stalled.Load() || b.ctx.Err() != nil {
		return err
	}
	return pullerrors.Errorf(pullerrors.Timeout, "blob %s: the registry sent nothing for %s", b.blob.Digest, b.cfg.Stall)
}

// readBody reads the next network bytes into out (discarding a prefix the
// registry sent again), under the watchdog, and keeps them.
func (b *resumingBlob) readBody(out []byte) (int, error) {
	want := b.p.Size() - b.p.Offset()
	if b.skip > 0 {
		want = b.skip
	}
	if int64(len(out)) > want {
		out = out[:want]
	}
	if b.dog != nil {
		b.dog.Reset(b.cfg.Stall)
	}
	n, err := b.body.Read(out)
	if b.dog != nil {
		b.dog.Stop()
	}
	if b.skip > 0 {
		b.skip -= int64(n)
		if b.skip == 0 {
			b.cfg.emit(progress.Event{Kind: progress.BlobReconnected, Digest: b.blob.Digest, Current: b.skipAt, Total: b.blob.Size,
				Discarded: b.skipAt, Message: fmt.Sprintf("the registry ignored the range: %d bytes fetched again and discarded", b.skipAt)})
		}
		return 0, noEOF(err, b.p.Offset() < b.p.Size())
	}
	if n > 0 {
		if _, werr := b.p.Write(out[:n]); werr != nil {
			if errors.Is(werr, blobresume.ErrOversize) {
				return 0, werr
			}
			return 0, pullerrors.Errorf(pullerrors.Storage, "keeping blob %s: %w", b.blob.Digest, werr)
		}
		b.fresh += int64(n)
	}
	if b.p.Offset() == b.p.Size() {
		if err == nil {
			err = b.checkEnd()
		} else if err == io.EOF {
			err = nil
		}
		return n, err
	}
	return n, noEOF(err, true)
}

// checkEnd reads past the declared size: one more byte is an oversize.
func (b *resumingBlob) checkEnd() error {
	var one [1]byte
	if b.dog != nil {
		b.dog.Reset(b.cfg.Stall)
		defer b.dog.Stop()
	}
	if n, _ := io.ReadFull(b.body, one[:]); n > 0 {
		return blobresume.ErrOversize
	}
	return nil
}

// noEOF turns an EOF before the blob's end into ErrUnexpectedEOF.
func noEOF(err error, short bool) error {
	if err == io.EOF && short {
		return io.ErrUnexpectedEOF
	}
	return err
}

// connect opens the body of the rest of the blob through the Opener. A
// request the watchdog ended fails with stallError's Timeout.
func (b *resumingBlob) connect() error {
	off := b.p.Offset()
	ctx, cancel := context.WithCancel(b.ctx)
	b.stalled.Store(false)
	if b.cfg.Stall > 0 { // a registry that never answers is a stall too
		b.dog = time.AfterFunc(b.cfg.Stall, func() { b.stalled.Store(true); cancel() })
	}
	body, err := b.blob.Open(ctx, off)
	if b.dog != nil {
		b.dog.Stop()
	}
	if err != nil {
		cancel()
		return b.stallError(err)
	}
	if err := b.accept(body, off); err != nil {
		if errors.Is(err, errShortBody) {
			b.short, b.shortSize = cancelOnClose{body.ReadCloser, cancel}, body.Length
			return err
		}
		_ = body.Close()
		cancel()
		return err
	}
	if b.connected && b.skip == 0 {
		b.cfg.emit(progress.Event{Kind: progress.BlobReconnected, Digest: b.blob.Digest, Current: off, Total: b.blob.Size,
			Message: fmt.Sprintf("reconnected at %d bytes", off)})
	}
	b.connected = true
	b.body, b.cancel = body.ReadCloser, cancel
	return nil
}

// accept checks an Opener's answer for the bytes from off, and sets how
// much of it to discard: nothing of a ranged answer, the first off bytes
// of the whole blob.
func (b *resumingBlob) accept(body *Body, off int64) error {
	if off > 0 && body.Start == off {
		b.skip = 0
		return nil
	}
	if body.Start != 0 {
		return pullerrors.Errorf(pullerrors.Internal, "blob %s: asked for the bytes from %d, got them from %d", b.blob.Digest, off, body.Start)
	}
	if err := checkAnnouncedSize(b.blob, body.Length, b.cfg.peer()); err != nil {
		return err
	}
	if body.Length >= 0 && body.Length < b.blob.Size {
		if b.connected || off > 0 {
			return pullerrors.Errorf(pullerrors.Integrity, "blob %s: the registry now has %d bytes, declared %d", b.blob.Digest, body.Length, b.blob.Size)
		}
		return errShortBody
	}
	b.skip, b.skipAt = off, off
	return nil
}

// cancelOnClose ends a body's request context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// errShortBody: the registry announced fewer bytes than declared on the
// first connection; the body is in resumingBlob.short.
var errShortBody = errors.New("blob shorter than declared")

// dropBody closes the current connection.
func (b *resumingBlob) dropBody() {
	if b.dog != nil {
		b.dog.Stop()
		b.dog = nil
	}
	if b.body != nil {
		b.cancel()
		_ = b.body.Close()
		b.body = nil
	}
}

// finish checks the completed blob; the partial is removed either way.
func (b *resumingBlob) finish() error {
	b.dropBody()
	p := b.p
	b.p = nil
	if err := p.Complete(); err != nil {
		b.err = pullerrors.Errorf(pullerrors.Integrity, "blob %s does not match its digest: %w", b.blob.Digest, err)
		b.discarded(p, b.err)
		return b.err
	}
	b.err = io.EOF
	return io.EOF
}

// discarded tells that the partial p, resumed, was found bad and removed:
// a BlobResumed at 0 (the blob starts over), and Config.Discarded (the
// consumer's error becomes an Integrity one, retried: the next attempt
// fetches the blob whole).
func (b *resumingBlob) discarded(p *blobresume.Partial, why error) {
	if p.Resumed() == 0 {
		return
	}
	if b.cfg.Discarded != nil {
		b.cfg.Discarded()
	}
	b.cfg.Log.WarnContext(b.ctx, "a partial download was bad and is discarded", "digest", b.blob.Digest, "err", why)
	b.cfg.emit(progress.Event{Kind: progress.BlobResumed, Digest: b.blob.Digest, Current: 0, Total: b.blob.Size,
		Message: "partial download discarded; starting over"})
}

// fail ends the stream with err; the partial is kept for a later attempt,
// unless the error says its bytes are wrong.
func (b *resumingBlob) fail(err error) error {
	b.dropBody()
	if b.p != nil {
		switch {
		case errors.Is(err, blobresume.ErrOversize) || pullerrors.Classify(err) == pullerrors.Integrity:
			b.p.Discard()
			b.discarded(b.p, err)
		case diskFull(err):
			b.p.Discard() // it cannot grow; kept, it would fill the disk for the next pull
		default:
			if cerr := b.p.Close(); cerr != nil {
				b.cfg.Log.WarnContext(b.ctx, "cannot keep a partial download", "digest", b.blob.Digest, "err", cerr)
			}
		}
		b.p = nil
	}
	b.err = err
	return err
}

// Close ends the stream early (or after EOF); what arrived is kept, unless
// the consumer gave up while the kept prefix was being replayed: then the
// prefix is what it could not use (a damaged partial, say a gzip error) and
// it is discarded, so that the next attempt does not fail the same way.
func (b *resumingBlob) Close() error {
	if b.err != nil {
		return nil
	}
	if b.left > 0 && b.ctx.Err() == nil && b.p != nil {
		b.dropBody()
		b.p.Discard()
		b.discarded(b.p, errors.New("the consumer stopped while the kept bytes were replayed"))
		b.p = nil
		b.err = errors.New("blob stream closed")
		return nil
	}
	b.fail(errors.New("blob stream closed"))
	return nil
}

// diskFull reports whether err says the file system is full.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
