// Package bench measures the engine against its anchors, side by side in
// one process on one in-process registry: a bare copy.Image into a storage
// reference (the floor with this stack) and go.podman.io/common v0.69.0
// libimage.Runtime.Pull (what Podman does). It is a module of its own so
// that libimage never enters the library's imports.
//
// Every benchmark reports the engine's figures and the anchors' in the same
// op, and their ratios (engine/copy, engine/libimage), so a noisy machine
// still gives a trustworthy comparison. ns/op is the engine's time alone;
// the anchors and each op's setup (fresh stores) run with the timer
// stopped.
//
// Run them with `make bench` at the repository root: it runs every
// benchmark, the memory ones each in a process of its own, and prints the
// table (cmd/benchtable) that the README's Performance section shows.
package bench
