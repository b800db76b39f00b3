package engine

import (
	"sync"

	"go.podman.io/storage"
)

// driverProbe runs the feature probe the overlay driver otherwise runs
// when the first layer is created: whether idmapped lower layers work,
// which starts a process in a user namespace and tries a mount. It costs
// 0.5 to 1 s on a store whose run root has not recorded the answer yet (a
// fresh store, the first pull after a boot), and copy.Image and the fast
// path both paid it in the middle of the pull, the downloads waiting behind
// the first layer. Started when a pull starts, it overlaps the manifest and
// layer downloads instead.
//
// The driver keeps the answer in a field it does not guard (storage calls
// it under its layer store lock, which we cannot take). So there is one
// probe per store, shared by the Engines that use it (driverProbes), and
// every path of ours that may create a layer waits for it to end first.
type driverProbe struct {
	mu   sync.Mutex
	done chan struct{} // nil until started; closed when the probe ended
}

// driverProbes holds the probe of each store (by graph and run root:
// storage hands out one Store, and one driver, per root).
var driverProbes sync.Map // string → *driverProbe

// probeOf returns the probe of the store, nil when its driver is not
// overlay.
func probeOf(store storage.Store) *driverProbe {
	if store.GraphDriverName() != "overlay" {
		return nil
	}
	p, _ := driverProbes.LoadOrStore(store.GraphRoot()+"\x00"+store.RunRoot(), &driverProbe{})
	return p.(*driverProbe)
}

// start starts the probe of store's driver unless it has been started;
// it returns at once. p may be nil (not overlay).
func (p *driverProbe) start(store storage.Store) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return
	}
	done := make(chan struct{})
	p.done = done
	go func() {
		defer close(done)
		driver, err := store.GraphDriver()
		if err != nil {
			return // storage reports it where it matters
		}
		driver.SupportsShifting(nil, nil)
	}()
}

// wait returns when the probe has ended, starting it if nothing has (a
// path that creates layers waits for it: see driverProbe).
func (p *driverProbe) wait(store storage.Store) {
	if p == nil {
		return
	}
	p.start(store)
	<-p.started()
}

// end waits for a probe under way (Close). It does not keep a later one
// from starting: other Engines may share the store.
func (p *driverProbe) end() {
	if p == nil {
		return
	}
	if done := p.started(); done != nil {
		<-done
	}
}

// started is the channel closed when the probe ends, nil before it starts.
func (p *driverProbe) started() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}
