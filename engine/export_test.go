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

// FlightsRunning is the number of shared transfers still running, joined
// or abandoned.
func (e *Engine) FlightsRunning() int {
	e.flights.mu.Lock()
	defer e.flights.mu.Unlock()
	return e.flights.running
}
