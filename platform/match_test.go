package platform_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/platform"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/types"
)

// raw splits "os/arch[/variant]" into a Platform without normalizing it, to
// write manifest lists as registries serve them.
func raw(s string) platform.Platform {
	f := strings.SplitN(s+"//", "/", 4)
	return platform.Platform{OS: f[0], Architecture: f[1], Variant: f[2]}
}

// entries reads a manifest list written as "os/arch[/variant]" per
// instance; "-" is an instance without platform (OCI only), a "+zstd"
// suffix marks an instance as zstd-compressed (OCI only).
func entries(specs ...string) []platform.Instance {
	list := make([]platform.Instance, len(specs))
	for i, s := range specs {
		s, zstd := strings.CutSuffix(s, "+zstd")
		if s == "-" {
			list[i] = platform.Instance{NoPlatform: true, Zstd: zstd}
		} else {
			list[i] = platform.Instance{Platform: raw(s), Zstd: zstd}
		}
	}
	return list
}

// TestChoose is the specification of instance choice: what is wanted, the
// platforms a manifest list offers, and the instance a pull copies (-1:
// none). Every row is also checked against c/image's own choice.
func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
		list []string
		pick int
	}{
		{"the platform asked for", "linux/amd64", []string{"linux/amd64", "linux/arm64"}, 0},
		{"the OS counts", "linux/amd64", []string{"windows/amd64", "linux/amd64"}, 1},
		{"no instance", "linux/s390x", []string{"linux/amd64", "linux/arm64"}, -1},
		{"an empty list", "linux/amd64", nil, -1},
		{"the first of equals", "linux/amd64", []string{"linux/amd64", "linux/amd64"}, 0},

		{"arm64 accepts arm64/v8", "linux/arm64", []string{"linux/amd64", "linux/arm64/v8"}, 1},
		{"arm64 prefers no variant to v8", "linux/arm64", []string{"linux/arm64/v8", "linux/arm64"}, 1},
		{"arm64 does not run arm", "linux/arm64", []string{"linux/arm/v7", "linux/arm/v8"}, -1},
		{"lists are not normalized: aarch64 is not arm64", "linux/arm64", []string{"linux/aarch64"}, -1},

		{"arm/v7 prefers v7", "linux/arm/v7", []string{"linux/arm/v6", "linux/arm/v7"}, 1},
		{"arm/v7 runs v6", "linux/arm/v7", []string{"linux/arm/v5", "linux/arm/v6"}, 1},
		{"arm/v7 does not run v8", "linux/arm/v7", []string{"linux/arm/v8"}, -1},
		{"arm/v8 takes the best lower variant", "linux/arm/v8", []string{"linux/arm/v6", "linux/arm/v7"}, 1},
		{"a variant before no variant", "linux/arm/v7", []string{"linux/arm", "linux/arm/v6"}, 1},
		{"arm/v6 accepts an arm that states no variant", "linux/arm/v6", []string{"linux/arm"}, 0},
		{"arm/v6 does not run v7", "linux/arm/v6", []string{"linux/arm/v7"}, -1},

		{"amd64/v3 prefers v3", "linux/amd64/v3", []string{"linux/amd64", "linux/amd64/v3"}, 1},
		{"amd64/v3 accepts amd64", "linux/amd64/v3", []string{"linux/amd64"}, 0},
		{"amd64/v3 does not take v2: amd64 has no ladder", "linux/amd64/v3", []string{"linux/amd64/v2"}, -1},
		{"amd64 does not take v2", "linux/amd64", []string{"linux/amd64/v2"}, -1},

		{"no platform is a last resort", "linux/amd64", []string{"-", "linux/arm64"}, 0},
		{"a matching platform beats no platform", "linux/amd64", []string{"-", "linux/amd64"}, 1},
		{"zstd wins a tie", "linux/amd64", []string{"linux/amd64", "linux/amd64+zstd"}, 1},
		{"zstd does not beat a better platform", "linux/arm/v7", []string{"linux/arm/v7", "linux/arm/v6+zstd"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := raw(tc.want)
			list := entries(tc.list...)
			got, ok := platform.ChooseInstance(want, list)
			if !ok {
				got = -1
			}
			if got != tc.pick {
				t.Errorf("ChooseInstance(%v, %v) = %d, want %d", want, tc.list, got, tc.pick)
			}
			if !strings.Contains(strings.Join(tc.list, " "), "+zstd") {
				offered := make([]platform.Platform, len(list))
				for i, inst := range list {
					offered[i] = inst.Platform
				}
				if got, ok := platform.Choose(want, offered); ok != (tc.pick >= 0) || (ok && got != tc.pick) {
					t.Errorf("Choose(%v, %v) = %d, %v, want %d", want, offered, got, ok, tc.pick)
				}
			}
			checkAgainstCImage(t, want, list)
		})
	}
}

// TestChooseAgreesWithCImage: on random manifest lists, with platforms
// spelled as registries spell them (normalized or not, complete or not) and
// random wants (including the zero want, the host, and partial ones),
// ChooseInstance picks the instance c/image picks, for OCI indexes and
// Docker schema2 lists.
func TestChooseAgreesWithCImage(t *testing.T) {
	oses := []string{"", "linux", "Linux", "windows", "darwin"}
	arches := []string{"", runtime.GOARCH, "amd64", "x86_64", "arm64", "aarch64", "arm", "armhf", "386", "s390x"}
	variants := []string{"", "", "v8", "8", "v7", "v6", "v5", "v2", "v3", "v9"}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	random := func() platform.Platform {
		return platform.Platform{OS: pick(oses), Architecture: pick(arches), Variant: pick(variants)}
	}
	n, chosen := 3000, 0
	if testing.Short() {
		n = 300
	}
	for range n {
		want := random()
		if r.IntN(4) == 0 {
			want = platform.Normalize(want)
		}
		list := make([]platform.Instance, r.IntN(7))
		for i := range list {
			list[i] = platform.Instance{Platform: random(), NoPlatform: r.IntN(8) == 0, Zstd: r.IntN(4) == 0}
			if r.IntN(3) == 0 && i > 0 {
				list[i].Platform = list[r.IntN(i)].Platform // duplicates, to exercise ties
			}
		}
		if _, ok := platform.ChooseInstance(want, list); ok {
			chosen++
		}
		checkAgainstCImage(t, want, list)
	}
	// Make sure the lists are not so random that nothing is ever chosen.
	if chosen < n/10 {
		t.Errorf("only %d of %d random lists had an instance to choose", chosen, n)
	}
	t.Logf("%d of %d random lists had an instance to choose", chosen, n)
}

// checkAgainstCImage checks that ChooseInstance picks from list what c/image
// picks for want, with list written as an OCI index and (without the
// OCI-only NoPlatform and Zstd) as a Docker schema2 list.
func checkAgainstCImage(t *testing.T, want platform.Platform, list []platform.Instance) {
	t.Helper()
	sys := &types.SystemContext{OSChoice: want.OS, ArchitectureChoice: want.Architecture, VariantChoice: want.Variant}

	got, ok := platform.ChooseInstance(want, list)
	if !ok {
		got = -1
	}
	if c := cimageChoice(t, ociIndex(list), "application/vnd.oci.image.index.v1+json", sys); c != got {
		t.Errorf("want %#v from OCI index %+v: ChooseInstance picks %d, c/image %d", want, list, got, c)
	}

	schema2 := make([]platform.Instance, len(list))
	for i, inst := range list {
		schema2[i] = platform.Instance{Platform: inst.Platform}
	}
	got, ok = platform.ChooseInstance(want, schema2)
	if !ok {
		got = -1
	}
	if c := cimageChoice(t, schema2List(schema2), manifest.DockerV2ListMediaType, sys); c != got {
		t.Errorf("want %#v from schema2 list %+v: ChooseInstance picks %d, c/image %d", want, schema2, got, c)
	}
}

// cimageChoice returns the position in the list blob of the instance c/image
// chooses for sys, or -1.
func cimageChoice(t *testing.T, blob []byte, mime string, sys *types.SystemContext) int {
	t.Helper()
	list, err := manifest.ListFromBlob(blob, mime)
	if err != nil {
		t.Fatalf("c/image cannot read the list %s: %v", blob, err)
	}
	d, err := list.ChooseInstance(sys)
	if err != nil {
		return -1
	}
	for i, inst := range list.Instances() {
		if inst == d {
			return i
		}
	}
	t.Fatalf("c/image chose %s, not in the list %s", d, blob)
	return -1
}

// instanceDigest is the made-up digest of the i-th instance of a list.
func instanceDigest(i int) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprint(i))))
}

type jsonPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

type jsonDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *jsonPlatform     `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type jsonList struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Manifests     []jsonDescriptor `json:"manifests"`
}

// ociIndex writes list as an OCI image index.
func ociIndex(list []platform.Instance) []byte {
	index := jsonList{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []jsonDescriptor{}}
	for i, inst := range list {
		d := jsonDescriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: instanceDigest(i), Size: 1}
		if !inst.NoPlatform {
			d.Platform = &jsonPlatform{Architecture: inst.Platform.Architecture, OS: inst.Platform.OS, Variant: inst.Platform.Variant}
		}
		if inst.Zstd {
			d.Annotations = map[string]string{"io.github.containers.compression.zstd": "true"}
		}
		index.Manifests = append(index.Manifests, d)
	}
	return mustJSON(index)
}

// schema2List writes list as a Docker schema2 manifest list.
func schema2List(list []platform.Instance) []byte {
	l := jsonList{SchemaVersion: 2, MediaType: manifest.DockerV2ListMediaType, Manifests: []jsonDescriptor{}}
	for i, inst := range list {
		l.Manifests = append(l.Manifests, jsonDescriptor{
			MediaType: manifest.DockerV2Schema2MediaType,
			Digest:    instanceDigest(i),
			Size:      1,
			Platform:  &jsonPlatform{Architecture: inst.Platform.Architecture, OS: inst.Platform.OS, Variant: inst.Platform.Variant},
		})
	}
	return mustJSON(l)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestOnly is the specification of Only: the platform wanted, and the
// platforms images declare that it accepts and rejects.
func TestOnly(t *testing.T) {
	for _, tc := range []struct {
		want   string
		accept []string
		reject []string
	}{
		{"linux/amd64",
			[]string{"linux/amd64", "linux/x86_64", "Linux/AMD64", "linux/amd64/v1"},
			[]string{"linux/amd64/v2", "linux/386", "windows/amd64", "linux/arm64", "linux", ""}},
		{"linux/amd64/v3",
			[]string{"linux/amd64/v3", "linux/amd64", "linux/amd64/v1"},
			[]string{"linux/amd64/v2", "linux/amd64/v4"}},
		{"linux/arm64",
			[]string{"linux/arm64", "linux/arm64/v8", "linux/aarch64", "linux/arm64/8"},
			[]string{"linux/arm64/v9", "linux/arm/v8", "linux/arm/v7", "linux/amd64"}},
		{"linux/arm/v8",
			[]string{"linux/arm/v8", "linux/arm/v7", "linux/arm", "linux/armhf", "linux/arm/v6", "linux/armel", "linux/arm/v5"},
			[]string{"linux/arm64"}},
		{"linux/arm/v7",
			[]string{"linux/arm/v7", "linux/arm", "linux/armhf", "linux/arm/v6", "linux/arm/v5"},
			[]string{"linux/arm/v8", "linux/arm64"}},
		{"linux/arm/v6",
			[]string{"linux/arm/v6", "linux/armel", "linux/arm/v5"},
			// arm without variant is arm/v7, which a v6 CPU cannot run.
			[]string{"linux/arm", "linux/arm/v7", "linux/arm/v8"}},
		{"linux/riscv64",
			[]string{"linux/riscv64"},
			[]string{"linux/riscv64/rva23"}},
	} {
		m := platform.Only(platform.MustParse(tc.want))
		for _, q := range tc.accept {
			if !m.Match(raw(q)) {
				t.Errorf("Only(%s).Match(%s) = false, want true", tc.want, q)
			}
		}
		for _, q := range tc.reject {
			if m.Match(raw(q)) {
				t.Errorf("Only(%s).Match(%s) = true, want false", tc.want, q)
			}
		}
	}
}

// TestOnlyEmptyFieldsAreTheHost: Only fills unset fields from the host, as
// c/image does.
func TestOnlyEmptyFieldsAreTheHost(t *testing.T) {
	host := platform.Host()
	if !platform.Only(platform.Platform{}).Match(host) {
		t.Errorf("Only(Platform{}) does not match the host %v", host)
	}
	if !platform.Only(platform.Platform{Architecture: host.Architecture, Variant: host.Variant}).Match(host) {
		t.Errorf("Only(%s without OS) does not match the host %v", host.Architecture, host)
	}
	if platform.Only(platform.Platform{}).Match(platform.Platform{OS: "plan9", Architecture: "mips"}) {
		t.Errorf("Only(Platform{}) matches plan9/mips")
	}
}

// TestOnlyAgreesWithCImage: for normalized platforms, Only(want) accepts an
// image's platform exactly when c/image would choose that platform's instance
// for want from a manifest list.
func TestOnlyAgreesWithCImage(t *testing.T) {
	var all []platform.Platform
	for _, os := range []string{"linux", "windows"} {
		for _, arch := range []string{"amd64", "arm64", "arm", "386", "s390x", "riscv64"} {
			for _, variant := range []string{"", "v1", "v2", "v3", "v5", "v6", "v7", "v8", "v9", "rva23"} {
				p := platform.Normalize(platform.Platform{OS: os, Architecture: arch, Variant: variant})
				if !containsPlatform(all, p) {
					all = append(all, p)
				}
			}
		}
	}
	for _, want := range all {
		m := platform.Only(want)
		sys := &types.SystemContext{OSChoice: want.OS, ArchitectureChoice: want.Architecture, VariantChoice: want.Variant}
		for _, q := range all {
			cimage := cimageChoice(t, ociIndex([]platform.Instance{{Platform: q}}), "application/vnd.oci.image.index.v1+json", sys) == 0
			if got := m.Match(q); got != cimage {
				t.Errorf("Only(%v).Match(%v) = %v, but c/image chooses it: %v", want, q, got, cimage)
			}
		}
	}
}

func containsPlatform(ps []platform.Platform, p platform.Platform) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func TestExact(t *testing.T) {
	for _, tc := range []struct {
		want   string
		accept []string
		reject []string
	}{
		{"linux/arm64",
			[]string{"linux/arm64", "linux/aarch64", "linux/arm64/v8", "LINUX/ARM64"},
			[]string{"linux/arm/v8", "linux/arm64/v9", "windows/arm64", "linux", ""}},
		{"linux/arm/v7",
			[]string{"linux/arm/v7", "linux/arm", "linux/armhf"},
			[]string{"linux/arm/v6", "linux/arm/v8"}},
		{"linux/amd64/v3",
			[]string{"linux/amd64/v3", "linux/x86_64/3"},
			[]string{"linux/amd64", "linux/amd64/v2"}},
	} {
		m := platform.Exact(platform.MustParse(tc.want))
		for _, q := range tc.accept {
			if !m.Match(raw(q)) {
				t.Errorf("Exact(%s).Match(%s) = false, want true", tc.want, q)
			}
		}
		for _, q := range tc.reject {
			if m.Match(raw(q)) {
				t.Errorf("Exact(%s).Match(%s) = true, want false", tc.want, q)
			}
		}
	}
}

func ExampleChoose() {
	offered := []platform.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
	}
	for _, want := range []string{"linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/s390x"} {
		if i, ok := platform.Choose(platform.MustParse(want), offered); ok {
			fmt.Printf("%s: instance %d (%s)\n", want, i, offered[i])
		} else {
			fmt.Printf("%s: none\n", want)
		}
	}
	// Output:
	// linux/arm64: instance 1 (linux/arm64/v8)
	// linux/arm/v7: instance 3 (linux/arm/v7)
	// linux/arm/v6: instance 2 (linux/arm/v6)
	// linux/s390x: none
}
