// Package clients tests `pullengine serve` with real Podman clients that no
// one here wrote: Podman's Go bindings (github.com/containers/podman/v5
// v5.8.0, pkg/bindings/images.Pull) and, when installed, the podman CLI in
// remote mode (Debian's podman 4.3.1: `podman --remote --url unix://SOCK
// pull REF`).
//
// It is a module of its own so that Podman's ~200 dependencies stay out of
// the library's go.mod. It does not import the library: the bindings
// v5.8.0 do not compile against the versions of go.podman.io/common,
// image and storage the library needs. The tests build the pullengine
// command from the parent module and run it as a server, as a user would.
//
// Build tags: remote,containers_image_openpgp,exclude_graphdriver_btrfs,
// exclude_graphdriver_devicemapper (the Makefile's test target sets them).
package clients
