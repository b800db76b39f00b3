// Package e2e runs the engine's main scenarios against the reference
// registry, distribution v3 (the code of the "registry:3" image), served
// in-process with handlers.NewApp and httptest on 127.0.0.1: pulls by
// qualified and short name, the pull policies, errors, platforms,
// htpasswd and token authentication, and a pull-through cache used as a
// registries.conf mirror.
//
// It is a module of its own so that distribution's ~38 extra modules never
// reach the library's go.mod. Run it with
//
//	cd e2e && go test -race -count=1 ./...
//
// (the repository's `make test` does).
package e2e
