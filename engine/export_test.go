package engine

// FlightWaiters is the number of callers waiting on shared transfers, for
// tests that must know every concurrent pull has joined.
func (e *Engine) FlightWaiters() int {
	e.flights.mu.Lock()
	defer e.flights.mu.Unlock()
	n := 0
	for _, fl := range e.flights.m {
		n += fl.waiters
	}
	return n
}
