package progress

import (
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// barArea draws the bars of one copy with mpb. mpb redraws from goroutines
// of its own; what it shows of a blob is read from an atomic string the
// Terminal sets on every event, so rendering never takes the Terminal's
// lock (the Terminal holds it while it waits for mpb).
type barArea struct {
	p    *mpb.Progress
	bars map[digest.Digest]*bar
	open int // bars not yet completed or aborted
}

// bar is one blob's bar and the text shown after it.
type bar struct {
	b      *mpb.Bar
	status atomic.Pointer[string]
	ended  bool
	// total is the size the bar was given (0: unknown);
	// createdWithTotal says it was known when the bar was created.
	total            int64
	createdWithTotal bool
}

// barsFor returns the copy's bar area, started at its first blob.
func (t *Terminal) barsFor() *barArea {
	if t.bars == nil {
		width := t.width
		if width <= 0 {
			width = 80
		}
		opts := []mpb.ContainerOption{
			mpb.WithOutput(t.w),
			mpb.WithWidth(width),
			// Finished bars move above the others and are no longer
			// redrawn: the redrawn area stays as small as the blobs in
			// flight, however many layers the image has.
			mpb.PopCompletedMode(),
		}
		if !isTerminal(t.w) {
			opts = append(opts, mpb.ForceTTY(), mpb.WithAutoRefresh())
		}
		t.bars = &barArea{p: mpb.New(opts...), bars: map[digest.Digest]*bar{}}
	}
	return t.bars
}

// update creates or advances the blob's bar.
func (a *barArea) update(row *blobRow, kind EventKind) {
	br, ok := a.bars[row.digest]
	if !ok {
		br = a.add(row)
	}
	status := row.status()
	br.status.Store(&status)
	if br.ended {
		return
	}
	switch kind {
	case BlobStarted, BlobProgress:
		if row.total > 0 && br.total <= 0 {
			br.total = row.total
			br.b.SetTotal(row.total, false)
		}
		br.b.SetCurrent(row.current)
	case BlobDone, BlobSkipped:
		if br.createdWithTotal {
			// mpb completes such a bar when current reaches total (and
			// ignores SetTotal from then on).
			br.b.SetCurrent(br.total)
		} else {
			br.b.SetTotal(-1, true) // total := current, complete
		}
		br.ended = true
		a.open--
	}
}

// add creates a blob's bar: its label, the bar, and its status text; mpb
// cuts what does not fit the width.
func (a *barArea) add(row *blobRow) *bar {
	br := &bar{total: max(row.total, 0), createdWithTotal: row.total > 0}
	empty := ""
	br.status.Store(&empty)
	label := row.label()
	br.b = a.p.AddBar(max(row.total, 0),
		mpb.BarWidth(30),
		mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return *br.status.Load() })),
	)
	a.bars[row.digest] = br
	a.open++
	return br
}

// printAbove prints text above the bars while some are still drawn, and
// reports whether it did. With none left, mpb might not draw again, so the
// caller closes the area and writes directly.
func (a *barArea) printAbove(text string) bool {
	if a.open == 0 {
		return false
	}
	_, err := a.p.Write([]byte(text))
	return err == nil
}

// closeBars draws the copy's bars one last time, as they are (an
// unfinished bar stays where it stopped), and ends the area.
func (t *Terminal) closeBars() {
	if t.bars == nil {
		return
	}
	for _, br := range t.bars.bars {
		if !br.ended {
			br.b.Abort(false)
			br.ended = true
		}
	}
	t.bars.p.Wait()
	t.bars = nil
}
