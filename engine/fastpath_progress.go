package engine

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/internal/fetch"
	"github.com/pullengine/pullengine/internal/report"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/types"
)

// stagingProgress reports the blobs being staged as copy.Image reports
// the blobs it copies (BlobStarted, BlobProgress each interval, BlobDone),
// with one difference that matters to callers with a progress timeout
// (CRI-O's pull_progress_timeout): a blob is reported while it advances
// either on the network or in its unpacking, so a layer whose bytes have
// all arrived but are still being written out keeps producing events. A
// blob that advances in neither (a stalled registry) produces none, as
// with copy.Image, so such a timeout still sees a stall.
type stagingProgress struct {
	rep  *report.Reporter
	ref  string
	quit chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	active map[*stagingBlob]struct{}
}

// stagingBlob is one blob's stream, counted.
type stagingBlob struct {
	p      *stagingProgress
	info   types.BlobInfo
	r      io.Reader
	limits *fastLimits

	read      atomic.Int64 // compressed bytes read
	inflated  atomic.Int64 // uncompressed bytes unpacked (the differ's count)
	ticks     int64        // read+inflated at the last event (ticker only)
	succeeded bool
}

// newStagingProgress starts the ticker of one pull's staging.
func newStagingProgress(rep *report.Reporter, ref string) *stagingProgress {
	p := &stagingProgress{rep: rep, ref: ref, quit: make(chan struct{}), active: map[*stagingBlob]struct{}{}}
	p.wg.Add(1)
	go p.tick(report.DefaultProgressInterval)
	return p
}

// tick emits a BlobProgress for each blob that advanced since its last
// event, every interval.
func (p *stagingProgress) tick(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		p.mu.Lock()
		for b := range p.active {
			read := b.read.Load()
			if now := read + b.inflated.Load(); now != b.ticks {
				b.ticks = now
				p.rep.Emit(b.event(progress.BlobProgress, read))
			}
		}
		p.mu.Unlock()
	}
}

// stop ends the ticker.
func (p *stagingProgress) stop() {
	close(p.quit)
	p.wg.Wait()
}

// start reports blob info started and returns its counted stream over rc.
func (p *stagingProgress) start(info types.BlobInfo, rc io.Reader, limits *fastLimits) *stagingBlob {
	b := &stagingBlob{p: p, info: info, r: rc, limits: limits}
	p.rep.Emit(b.event(progress.BlobStarted, 0))
	p.mu.Lock()
	p.active[b] = struct{}{}
	p.mu.Unlock()
	return b
}

// finish stops reporting b; done reported it done if it succeeded.
func (p *stagingProgress) finish(b *stagingBlob) {
	p.mu.Lock()
	delete(p.active, b)
	p.mu.Unlock()
	if b.succeeded {
		p.rep.Emit(b.event(progress.BlobDone, b.read.Load()))
	}
}

func (b *stagingBlob) event(kind progress.EventKind, current int64) progress.Event {
	return progress.Event{Kind: kind, Ref: b.p.ref, Digest: b.info.Digest, Current: current, Total: b.info.Size}
}

// Read counts the compressed bytes; past the image's uncompressed limit
// it fails with the limit's error.
func (b *stagingBlob) Read(p []byte) (int, error) {
	if err := b.limits.exceeded(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// unpacked is the differ's progress callback: uncompressed bytes so far.
func (b *stagingBlob) unpacked(n int64) {
	delta := n - b.inflated.Swap(n)
	b.limits.add(delta)
}

// done marks the blob staged and verified.
func (b *stagingBlob) done() { b.succeeded = true }

// fastLimits applies Options.Limits' uncompressed sizes to the fast path,
// with fetch.Counter's errors but without its second decompression: each
// layer's tar is bounded by the differ (MaxUncompressed), and the sum of
// the layers being staged by a shared count, checked as they grow (at the
// differ's progress steps) and exactly once all are staged.
type fastLimits struct {
	l     Limits
	total atomic.Int64
}

// perLayer is the bound of one layer's tar: the smaller limit set.
func (f *fastLimits) perLayer() int64 {
	n := f.l.MaxLayerSize
	if m := f.l.MaxImageSize; m > 0 && (n <= 0 || m < n) {
		n = m
	}
	return max(n, 0)
}

// add counts delta more uncompressed bytes of the image.
func (f *fastLimits) add(delta int64) { f.total.Add(delta) }

// exceeded returns the image limit's error once the count is past it.
func (f *fastLimits) exceeded() error {
	if f.l.MaxImageSize > 0 && f.total.Load() > f.l.MaxImageSize {
		return fetch.ImageTooLarge(f.l.MaxImageSize)
	}
	return nil
}

// tooLarge is the error of a layer the differ found past perLayer.
func (f *fastLimits) tooLarge(d digest.Digest) error {
	if f.l.MaxLayerSize > 0 && f.l.MaxLayerSize == f.perLayer() {
		return fetch.LayerTooLarge(d, f.l.MaxLayerSize)
	}
	return fetch.ImageTooLarge(f.l.MaxImageSize)
}
