// Package engine pulls container images into a local containers-storage
// store: one Pull call that resolves the name the way Podman does, applies
// the pull policy, copies with containers/image, and reports what it did.
//
// An Engine owns (or borrows) a store and the host configuration it reads:
// registries.conf, containers.conf, policy.json, read in New and re-read by
// the next Pull when one of the files changes (see reload.go). It is safe
// for concurrent use.
//
// # Setup
//
// Three things every program that links the engine needs:
//
//   - Build tags: `-tags containers_image_openpgp,exclude_graphdriver_btrfs`
//     (for example GOFLAGS=-tags=containers_image_openpgp,exclude_graphdriver_btrfs).
//     Without them containers/image links gpgme and containers/storage the
//     btrfs driver, both through cgo, and the build fails unless their C
//     headers are installed. Neither can be avoided by the engine: the
//     choice is made by build tags of those modules.
//   - Init first in main (and in TestMain): `if engine.Init() { return }`.
//     Layer writes re-execute the program. New returns
//     ErrReexecNotInitialized when it was not called.
//   - Logs: the engine logs to Options.Logger only. containers/storage and
//     containers/image log through logrus's standard logger, a process-wide
//     global the engine leaves alone (for example "[graphdriver] using
//     prior storage driver: vfs" at info level on stderr). A program that
//     wants them quiet sets it once in main:
//     logrus.SetLevel(logrus.WarnLevel) or logrus.SetOutput(io.Discard).
package engine

// The code, by the steps of one Pull, in the order run() takes them. Every
// step is a method of pullState (pullstate.go), the one value a pull
// carries from start to end; the Engine (engine.go) holds what outlives a
// pull: the store, the configuration, the shared transfers.
//
//	Pull, run, report, fail   pull.go          the steps in order; the Result or the error
//	observe                   observer.go      Options.Observer, at start, end, each retry
//	read the configuration    reload.go        registries.conf, policy.json, containers.conf (conf.go)
//	parse and normalize       storeref.go      the name: registry name, ID, transport reference
//	                          input.go         (refuseCredentials, parseInput), normalize.go
//	resolve the options       resolveoptions.go  PullOptions checked and defaulted, once:
//	                          credentials.go   RegistryCredentials as an auth file,
//	                          decrypt.go       decryption keys, the platform, the retry budget
//	dispatch                  pull.go          to the path that serves the request
//
// One registry name or image ID (pullName, pull.go):
//
//	look up the local image   lookup.go, suffix.go, storedmanifests.go
//	decide                    pull.go          internal/decide's table, told to progress
//	candidates                shortnames.go    short names through registries.conf
//	newer: same as remote?    newer.go         a manifest HEAD, then the list's instance
//	copy                      copy.go          a transferSpec, shared through flight.go
//	                          retry.go         the retries of one transfer
//	                          fastpath.go      the cold-pull fast path (fastpath_layers.go,
//	                                           fastpath_blobs.go, fastpath_progress.go), else
//	                          source.go        copy.Image reading through the wrapped source
//	                                           (internal/fetch, limits.go)
//	platform not found        platformerror.go which platforms the list offers
//	another platform's image  displaced.go     keeps the image a platform pull displaced
//	record                    finish.go        the Result, built only there
//
// The other requests: a transport reference (transports.go,
// transportnames.go, otherstores.go), several platforms (manifestlist.go),
// every tag (alltags.go, taglist.go).
//
// Engine-wide, not per pull: New and Close (engine.go, setup.go,
// store.go, partial.go, resume.go, teardown.go), Prune (prune.go).
