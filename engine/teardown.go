package engine

import "time"

// Tearing transfers down: Close cancels the transfers in flight and waits
// for them; Prune keeps away from the layers they may be writing.

// track records a transfer starting. f.mu must be held.
func (f *flights) track(fl *flight) {
	if f.live == nil {
		f.live = map[*flight]time.Time{}
	}
	f.live[fl] = time.Now()
	f.running++
	f.wg.Add(1)
}

// untrack records a transfer's end. f.mu must be held.
func (f *flights) untrack(fl *flight) {
	delete(f.live, fl)
	f.running--
}

// shutdown cancels every running transfer and waits until each has
// returned.
func (f *flights) shutdown() {
	f.mu.Lock()
	for fl := range f.live {
		fl.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// oldestRunning returns when the oldest running transfer started, and
// whether any is running.
func (f *flights) oldestRunning() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var oldest time.Time
	for _, t := range f.live {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest, !oldest.IsZero()
}
