package engine

import (
	"testing"

	"go.podman.io/image/v5/transports/alltransports"
)

// docker-daemon names are normalized to docker.io (podman#10998): the
// daemon's "alpine" is Docker Hub's, not a local image's. An image ID
// reference has no name and is stored by ID (libimage would store
// "sha256:<hex>" as the repository docker.io/library/sha256). Naming needs
// no daemon: it is computed from the reference alone.
func TestDockerDaemonNames(t *testing.T) {
	const hex = "b3b5d0b5a0e8e6f5a7c2b7c4a7e3b6f1a2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1"
	for ref, want := range map[string]string{
		"docker-daemon:alpine:latest":               "docker.io/library/alpine:latest",
		"docker-daemon:alpine:3.20":                 "docker.io/library/alpine:3.20",
		"docker-daemon:team/app:1":                  "docker.io/team/app:1",
		"docker-daemon:quay.io/team/app:1":          "quay.io/team/app:1",
		"docker-daemon:localhost/app:1":             "localhost/app:1",
		"docker-daemon:localhost:5000/app:1":        "localhost:5000/app:1",
		"docker-daemon:alpine@sha256:" + hex:        "docker.io/library/alpine@sha256:" + hex,
		"docker-daemon:sha256:" + hex:               "", // by ID
		"docker-daemon:docker.io/library/busybox:1": "docker.io/library/busybox:1",
	} {
		ref, err := alltransports.ParseImageName(ref)
		if err != nil {
			t.Fatal(err)
		}
		src, err := openSource(nil, ref, 0)
		if err != nil {
			t.Fatalf("%s: %v", ref.StringWithinTransport(), err)
		}
		var got string
		switch len(src.names) {
		case 0:
		case 1:
			got = src.names[0]
		default:
			t.Errorf("%s: names %q, want one", ref.StringWithinTransport(), src.names)
		}
		if got != want {
			t.Errorf("%s: stored as %q, want %q", ref.StringWithinTransport(), got, want)
		}
	}
}
