package progress

import "testing"

func TestEventCached(t *testing.T) {
	for _, tt := range []struct {
		ev   Event
		want int64
	}{
		{Event{Kind: BlobDone, Current: 30, Total: 1000}, 970},
		{Event{Kind: BlobDone, Current: 1000, Total: 1000}, 0},
		{Event{Kind: BlobDone, Current: 1200, Total: 1000}, 0},
		{Event{Kind: BlobDone, Current: 30, Total: -1}, 0},
		{Event{Kind: BlobProgress, Current: 30, Total: 1000}, 0},
		{Event{Kind: BlobSkipped, Total: 1000}, 0},
	} {
		if got := tt.ev.Cached(); got != tt.want {
			t.Errorf("%+v: Cached() = %d, want %d", tt.ev, got, tt.want)
		}
	}
}
