//go:build race

package main

// raceEnabled: the test binary runs under the race detector, whose shadow
// memory makes peak-RSS figures meaningless.
const raceEnabled = true
