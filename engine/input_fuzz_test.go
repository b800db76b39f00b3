package engine

import (
	"os"
	"path/filepath"
	"testing"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/types"
)

// FuzzInput runs the whole input-handling chain up to the first network
// call (transport prefix, IDs, tag@digest, syntax, short-name resolution
// through a registries.conf): no panic, and either a classified error or
// something to pull.
func FuzzInput(f *testing.F) {
	for _, s := range []string{
		"alpine", "docker://alpine", "alpine:3@sha256:" + hex64, hex64, "sha256:" + hex64, "sha256:abc",
		"localhost:5000/x", "docker:latest", "oci-archive:/x.tar", "docker-daemon:alpine", "Uppercase",
		"dir:/a/B!@c", "$$", "a/b/c:d", "docker://a:b@sha256:" + hex64, "ostree:foo", "nosuch:foo", "",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(conf, []byte("unqualified-search-registries = [\"example.com\", \"quay.io\"]\n[aliases]\n\"nick\" = \"example.com/real/name\"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	sys := &types.SystemContext{SystemRegistriesConfPath: conf, SystemRegistriesConfDirPath: conf + ".d", UserShortNameAliasConfPath: filepath.Join(dir, "aliases.conf")}

	f.Fuzz(func(t *testing.T, name string) {
		in, err := parseInput(name)
		if err != nil {
			if k := pullerrors.Classify(err); k != pullerrors.InvalidReference && k != pullerrors.InvalidArgument {
				t.Fatalf("parseInput(%q): error of kind %v: %v", name, k, err)
			}
			return
		}
		set := 0
		for _, b := range []bool{in.transportRef != nil, in.id != "", in.name != ""} {
			if b {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("parseInput(%q) = %+v: exactly one of transport, ID, name must be set", name, in)
		}
		if in.name == "" || in.qualified {
			return
		}
		names, _, err := resolveShortName(sys, in.name)
		if err != nil {
			if pullerrors.Classify(err) == pullerrors.Internal {
				t.Fatalf("resolving %q: unclassified %v", in.name, err)
			}
			return
		}
		if len(names) == 0 {
			t.Fatalf("resolving %q gave no candidate", in.name)
		}
	})
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
