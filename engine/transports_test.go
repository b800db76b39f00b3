package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/fixtures"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
)

// The committed fixtures (testdata/README.md says what each holds).
const td = "../testdata/"

// transportCase is one pull from a non-registry source and what it must
// give: the names the image is stored under (none: by ID only) and its ID,
// or an error of kind with every string of msg in its message.
type transportCase struct {
	name  string
	ref   string
	opts  *engine.PullOptions
	names []string
	id    string // expected image ID; "" skips the check
	plat  string // expected platform of the stored image; "" skips
	kind  pullerrors.Kind
	msg   []string
	// engine configures the Engine pulled into.
	engine []enginetest.EngineOption
}

// run pulls c.ref into a fresh store and checks the outcome. A successful
// pull must give one image, under exactly c.names, that is then found by
// its ID without any source (policy never).
func (c transportCase) run(t *testing.T) {
	t.Helper()
	e := enginetest.NewEngine(t, c.engine...)
	ctx := context.Background()
	res, err := e.Pull(ctx, c.ref, policy.Missing, c.opts)
	if c.kind != pullerrors.Internal {
		if err == nil {
			t.Fatalf("pulled %v, want an error of kind %v", res.Images, c.kind)
		}
		if k := pullerrors.Classify(err); k != c.kind {
			t.Errorf("error kind %v, want %v: %v", k, c.kind, err)
		}
		for _, m := range c.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error %q does not say %q", err, m)
			}
		}
		if imgs, _ := e.Store().Images(); len(imgs) != 0 {
			t.Errorf("a failed pull left %d images in the store", len(imgs))
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Pulled || len(res.Images) != 1 {
		t.Fatalf("outcome %v with %d images, want one pulled image", res.Outcome, len(res.Images))
	}
	got := res.Images[0]
	if !sameSet(got.Names, c.names) {
		t.Errorf("names %q, want %q", got.Names, c.names)
	}
	if c.id != "" && got.ID != c.id {
		t.Errorf("ID %s, want %s", got.ID, c.id)
	}
	if c.plat != "" && got.Platform.String() != c.plat {
		t.Errorf("platform %s, want %s", got.Platform, c.plat)
	}
	if imgs, _ := e.Store().Images(); len(imgs) != 1 {
		t.Errorf("the store holds %d images, want 1 (one copy, every name on it)", len(imgs))
	}
	byID, err := e.Pull(ctx, got.ID, policy.Never, nil)
	if err != nil || byID.Images[0].ID != got.ID {
		t.Errorf("by ID afterwards: %v", err)
	}
}

// docker-archive: RepoTags normalized (familiar → localhost/), several tags
// on one image, none → by ID, several images → choose with :@N or :name,
// in every manifest.json layout the tools write.
func TestTransportDockerArchive(t *testing.T) {
	twoImages := td + "docker-two-images.tar"
	cases := []transportCase{
		{name: "go-containerregistry", ref: "docker-archive:" + td + "hello.docker.tar",
			names: []string{"localhost/pullengine/hello:1.0"}, id: dockerArchiveID(t, td+"hello.docker.tar", 0)},
		{name: "docker save", ref: "docker-archive:" + td + "docker-save.tar",
			names: []string{"localhost/pullengine/docker-save:1"}, id: dockerArchiveID(t, td+"docker-save.tar", 0)},
		{name: "docker save before 25", ref: "docker-archive:" + td + "docker-save-legacy.tar",
			names: []string{"localhost/pullengine/docker-save-legacy:1"}, id: dockerArchiveID(t, td+"docker-save-legacy.tar", 0)},
		{name: "podman save", ref: "docker-archive:" + td + "podman-save.tar",
			names: []string{"localhost/pullengine/podman-save:1"}, id: dockerArchiveID(t, td+"podman-save.tar", 0)},
		{name: "two names", ref: "docker-archive:" + td + "docker-two-names.tar",
			names: []string{"localhost/pullengine/two-names:a", "example.com/pullengine/two-names:b"}, id: dockerArchiveID(t, td+"docker-two-names.tar", 0)},
		{name: "two names, one chosen", ref: "docker-archive:" + td + "docker-two-names.tar:pullengine/two-names:a",
			names: []string{"localhost/pullengine/two-names:a"}},
		{name: "no name", ref: "docker-archive:" + td + "docker-unnamed.tar", id: dockerArchiveID(t, td+"docker-unnamed.tar", 0)},
		{name: "two images", ref: "docker-archive:" + twoImages, kind: pullerrors.InvalidReference,
			msg: []string{"holds 2 images", "@0 localhost/pullengine/one:1", "@1 localhost/pullengine/two:1", "docker-archive:" + twoImages + ":@N"}},
		{name: "two images, @1", ref: "docker-archive:" + twoImages + ":@1",
			names: []string{"localhost/pullengine/two:1"}, id: dockerArchiveID(t, twoImages, 1)},
		{name: "two images, by name", ref: "docker-archive:" + twoImages + ":localhost/pullengine/one:1",
			names: []string{"localhost/pullengine/one:1"}, id: dockerArchiveID(t, twoImages, 0)},
		{name: "two images, @7", ref: "docker-archive:" + twoImages + ":@7", kind: pullerrors.NotFound,
			msg: []string{"no image @7", "@1 localhost/pullengine/two:1"}},
		{name: "two images, unknown name", ref: "docker-archive:" + twoImages + ":localhost/pullengine/nope:1", kind: pullerrors.NotFound,
			msg: []string{"no image localhost/pullengine/nope:1", "@0 localhost/pullengine/one:1"}},
		{name: "missing file", ref: "docker-archive:" + td + "missing.tar", kind: pullerrors.NotFound, msg: []string{"missing.tar"}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// The kit writes every docker-archive layout for tests of their own; each
// one pulls, with its tags normalized.
func TestTransportDockerArchiveKitFormats(t *testing.T) {
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithPlatform("linux", "amd64", ""))
	other := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLabels(map[string]string{"other": "1"}))
	for _, f := range []enginetest.DockerArchiveFormat{enginetest.GGCRArchive, enginetest.DockerSaveArchive, enginetest.DockerSaveLegacyArchive, enginetest.PodmanSaveArchive} {
		path := filepath.Join(t.TempDir(), "a.tar")
		enginetest.WriteDockerArchiveAs(t, path, f,
			enginetest.ArchiveImage{Image: other, Tags: []string{"quay.io/x/other:1"}},
			enginetest.ArchiveImage{Image: img, Tags: []string{"kit/app:1", "kit/app:2"}})
		c := transportCase{name: f.String(), ref: "docker-archive:" + path + ":@1",
			names: []string{"localhost/kit/app:1", "localhost/kit/app:2"}, id: enginetest.ID(t, img)}
		if f == enginetest.PodmanSaveArchive {
			// podman writes qualified RepoTags: kit/app is Docker Hub's.
			c.names = []string{"docker.io/kit/app:1", "docker.io/kit/app:2"}
		}
		t.Run(c.name, c.run)
	}
}

// oci-archive: io.containerd.image.name, else ref.name, normalized; no
// name → by ID; an invalid name is an error, not silently dropped.
func TestTransportOCIArchive(t *testing.T) {
	cases := []transportCase{
		{name: "ref.name", ref: "oci-archive:" + td + "hello.oci.tar", names: []string{"localhost/pullengine/hello:1.0"},
			id: dockerArchiveID(t, td+"hello.docker.tar", 0)}, // the same image as hello.docker.tar
		{name: "BuildKit's containerd name", ref: "oci-archive:" + td + "buildkit.tar", names: []string{"example.com/buildkit/app:oci"}},
		{name: "no name", ref: "oci-archive:" + td + "oci-unnamed.oci.tar", id: ociConfigID(t, td+"oci-unnamed.oci.tar")},
		{name: "uppercase name", ref: "oci-archive:" + td + "oci-uppercase.oci.tar", kind: pullerrors.InvalidReference,
			msg: []string{`"Pullengine/Uppercase:1"`, "must be lowercase"}},
		{name: "chosen by ref.name", ref: "oci-archive:" + td + "buildkit.tar:oci", names: []string{"example.com/buildkit/app:oci"}},
		{name: "unknown ref.name", ref: "oci-archive:" + td + "buildkit.tar:nope", kind: pullerrors.NotFound,
			msg: []string{"@0 oci (example.com/buildkit/app:oci)"}},
		{name: "missing file", ref: "oci-archive:" + td + "missing.tar", kind: pullerrors.NotFound, msg: []string{"archive file not found", "missing.tar"}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// A hybrid archive (BuildKit's docker exporter; docker save since 25) is
// both a docker-archive and an oci-archive: each transport takes the name
// its own format gives (RepoTags vs the containerd annotation), as Podman
// does, and both land on the one image.
func TestTransportHybridArchive(t *testing.T) {
	for _, c := range []struct {
		file              string
		viaDocker, viaOCI string
	}{
		{"buildkit.tar", "example.com/buildkit/app:docker", "example.com/buildkit/app:oci"},
		// docker save writes the familiar RepoTag "pullengine/docker-save:1"
		// (→ localhost/, like every archive name without a registry) and
		// the containerd annotation "docker.io/pullengine/docker-save:1".
		{"docker-save.tar", "localhost/pullengine/docker-save:1", "docker.io/pullengine/docker-save:1"},
	} {
		t.Run(c.file, func(t *testing.T) {
			e := enginetest.NewEngine(t)
			ctx := context.Background()
			viaDocker, err := e.Pull(ctx, "docker-archive:"+td+c.file, policy.Missing, nil)
			if err != nil {
				t.Fatal(err)
			}
			viaOCI, err := e.Pull(ctx, "oci-archive:"+td+c.file, policy.Missing, nil)
			if err != nil {
				t.Fatal(err)
			}
			if viaDocker.Images[0].ID != viaOCI.Images[0].ID {
				t.Errorf("two images (%s, %s) from one archive", viaDocker.Images[0].ID, viaOCI.Images[0].ID)
			}
			if want := []string{c.viaDocker, c.viaOCI}; !sameSet(viaOCI.Images[0].Names, want) {
				t.Errorf("names %q, want %q", viaOCI.Images[0].Names, want)
			}
		})
	}
}

// oci: "dir:ref" stores a ref that is a name under that name, a ref that is
// only a tag ("1.0") or an index (@N) by ID; a layout of several images
// needs a choice, and the error lists them.
func TestTransportOCILayout(t *testing.T) {
	layout := td + "layout"
	cases := []transportCase{
		{name: "ref is a name", ref: "oci:" + layout + ":example.com/pullengine/layout:2",
			names: []string{"example.com/pullengine/layout:2"}, id: ociLayoutConfigID(t, layout, 1)},
		{name: "ref is a tag", ref: "oci:" + layout + ":1.0", id: ociLayoutConfigID(t, layout, 0)},
		{name: "@N", ref: "oci:" + layout + ":@1", id: ociLayoutConfigID(t, layout, 1)},
		{name: "several images, no ref", ref: "oci:" + layout, kind: pullerrors.InvalidReference,
			msg: []string{"several images", "@0 1.0", "@1 example.com/pullengine/layout:2", "oci:" + layout + ":@N"}},
		{name: "unknown ref", ref: "oci:" + layout + ":nope", kind: pullerrors.NotFound,
			msg: []string{`"nope"`, "@0 1.0; @1 example.com/pullengine/layout:2"}},
		{name: "one entry, no ref", ref: "oci:" + td + "multiarch", opts: &engine.PullOptions{Platform: platform.MustParse("linux/amd64")},
			plat: "linux/amd64"},
		{name: "missing", ref: "oci:" + td + "missing", kind: pullerrors.NotFound, msg: []string{"index.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// A multi-arch layout or archive with the Platform option stores the
// instance for that platform (and only it), under the layout's name when
// one is given; a platform the index lacks is PlatformNotFound listing
// what it offers.
func TestTransportMultiArch(t *testing.T) {
	want := map[string]string{} // platform → instance config ID, from the index
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		want[p] = instanceConfigID(t, td+"multiarch", p)
	}
	var cases []transportCase
	for p, id := range want {
		opts := &engine.PullOptions{Platform: platform.MustParse(p)}
		cases = append(cases,
			transportCase{name: "layout " + p, ref: "oci:" + td + "multiarch", opts: opts, id: id, plat: p},
			transportCase{name: "layout named " + p, ref: "oci:" + td + "multiarch:pullengine/multiarch:1", opts: opts,
				id: id, plat: p, names: []string{"localhost/pullengine/multiarch:1"}},
			transportCase{name: "archive " + p, ref: "oci-archive:" + td + "multiarch.oci.tar", opts: opts,
				id: id, plat: p, names: []string{"localhost/pullengine/multiarch:1"}},
		)
	}
	cases = append(cases, transportCase{name: "absent platform", ref: "oci:" + td + "multiarch",
		opts: &engine.PullOptions{Platform: platform.MustParse("linux/s390x")}, kind: pullerrors.PlatformNotFound,
		msg: []string{"linux/s390x", "linux/amd64", "linux/arm64", "linux/arm/v7"}})
	slices.SortFunc(cases, func(a, b transportCase) int { return strings.Compare(a.name, b.name) })
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// The index's arm64 instance whose config claims amd64 is still the one
// an arm64 pull stores (the index is what chooses), with a warning.
func TestTransportMultiArchWrongPlatform(t *testing.T) {
	e := enginetest.NewEngine(t)
	res, err := e.Pull(context.Background(), "oci:"+td+"wrong-platform", policy.Missing,
		&engine.PullOptions{Platform: platform.MustParse("linux/arm64")})
	if err != nil {
		t.Fatal(err)
	}
	img := res.Images[0]
	if want := instanceConfigID(t, td+"wrong-platform", "linux/arm64"); img.ID != want {
		t.Errorf("ID %s, want the arm64 instance %s", img.ID, want)
	}
	if img.Platform.String() != "linux/amd64" {
		t.Errorf("platform %s, want what the config claims (linux/amd64)", img.Platform)
	}
	if len(res.Warnings) == 0 {
		t.Error("no warning that the image declares another platform than asked")
	}
}

// dir: the path may hold characters invalid in a name: stored by ID.
func TestTransportDir(t *testing.T) {
	dir := td + "Capital!@Dir"
	m := readJSON[v1.Manifest](t, filepath.Join(dir, "manifest.json"))
	transportCase{ref: "dir:" + dir, id: m.Config.Digest.Hex}.run(t)
}

// containers-storage: copied store to store, keeping its name and ID,
// from a store the Engine allows (TestForeignStoreRefused: others are
// refused).
func TestTransportContainersStorage(t *testing.T) {
	ctx := context.Background()
	other := enginetest.NewEngine(t)
	src, err := other.Pull(ctx, "oci-archive:"+td+"hello.oci.tar", policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := other.Store()
	ref := "containers-storage:[" + s.GraphDriverName() + "@" + s.GraphRoot() + "]localhost/pullengine/hello:1.0"
	allow := enginetest.WithEngineOptions(func(o *engine.Options) { o.AllowedStores = []string{s.GraphRoot()} })
	transportCase{ref: ref, names: []string{"localhost/pullengine/hello:1.0"}, id: src.Images[0].ID, engine: []enginetest.EngineOption{allow}}.run(t)
}

// docker-daemon: with no daemon listening, the pull fails as Unavailable
// (503: try again when the daemon runs), not as "image not found" (the
// missing socket is an ENOENT), and says where it looked. The naming rule
// (docker.io) is tested without a daemon in TestDockerDaemonNames.
func TestTransportDockerDaemonAbsent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	e := enginetest.NewEngine(t, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.SystemContext.DockerDaemonHost = "unix://" + sock
	}))
	_, err := e.Pull(context.Background(), "docker-daemon:alpine:latest", policy.Missing, nil)
	if k := pullerrors.Classify(err); k != pullerrors.Unavailable {
		t.Fatalf("kind %v, want unavailable: %v", k, err)
	}
	if s := pullerrors.HTTPStatus(err); s != 503 {
		t.Errorf("status %d, want 503", s)
	}
	if !strings.Contains(err.Error(), sock) {
		t.Errorf("error %q does not name the socket", err)
	}
}

// An unknown transport, or a known one whose reference does not parse,
// fails with that parse error and never becomes a registry pull of the
// string: the search registry sees no request. (A string that is a valid
// name, like "nosuch:foo" = repository nosuch, tag foo, is a registry
// name: transports are recognized by name, as c/image does.)
func TestTransportParseErrorsNeverReachRegistry(t *testing.T) {
	reg := enginetest.NewRegistry(t)
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "b"})
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
	ctx := context.Background()
	for _, c := range []struct {
		ref  string
		kind pullerrors.Kind
		msg  string
	}{
		{"nosuch://foo", pullerrors.InvalidReference, "invalid reference format"},
		{"oci-archvie:/tmp/x.tar", pullerrors.InvalidReference, "invalid reference format"},
		{"ostree:foo", pullerrors.InvalidReference, `The transport "ostree:" is not supported in this build`},
		{"docker-daemon:alpine", pullerrors.InvalidReference, "neither a tag nor a digest"},
		{"docker-daemon:sha256:abc", pullerrors.InvalidReference, "reserved for (non-shortened) digest references"},
		{"docker-archive:", pullerrors.InvalidReference, "isn't of the form <path>[:<reference>]"},
		{"docker-archive:x.tar:@-1", pullerrors.InvalidReference, "Invalid source index"},
		{"oci:x:@z", pullerrors.InvalidReference, "Invalid source index"},
		{"containers-storage:", pullerrors.InvalidReference, "empty reference"},
		{"tarball:/nonexistent/x.tar", pullerrors.InvalidReference, "/nonexistent/x.tar"},
	} {
		for _, p := range []policy.Policy{policy.Always, policy.Missing, policy.Newer} {
			reg.Requests.Reset()
			_, err := e.Pull(ctx, c.ref, p, nil)
			if k := pullerrors.Classify(err); k != c.kind {
				t.Errorf("%s (%v): kind %v, want %v: %v", c.ref, p, k, c.kind, err)
			}
			if err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: error %q does not carry the transport's %q", c.ref, err, c.msg)
			}
			if n := reg.Requests.Total(); n != 0 {
				t.Errorf("%s (%v): the registry got %d requests: %v", c.ref, p, n, reg.Requests.Log())
			}
		}
	}
	// The registry is a search registry indeed: a short name reaches it.
	reg.Requests.Reset()
	if _, err := e.Pull(ctx, "team/app:v1", policy.Always, nil); err != nil || reg.Requests.Total() == 0 {
		t.Fatalf("control pull: %v, %d requests", err, reg.Requests.Total())
	}
}

// Non-registry sources always copy, whatever the policy (as libimage):
// there is nothing cheaper to ask than the source itself.
func TestTransportIgnoresPolicy(t *testing.T) {
	e := enginetest.NewEngine(t)
	for _, p := range []policy.Policy{policy.Never, policy.Missing, policy.Newer, policy.Always} {
		res, err := e.Pull(context.Background(), "oci-archive:"+td+"hello.oci.tar", p, nil)
		if err != nil || res.Outcome != engine.Pulled {
			t.Errorf("%v: %v, %v; want pulled", p, res, err)
		}
	}
}

// Hostile layers: entries named out of the layer (../.., absolute) and
// links out of it are extracted inside the layer or refused; nothing is
// written outside the store (a canary directory outside stays as it was).
// c/storage applies layers chrooted into the layer directory, so ".." and
// absolute names stay inside and links resolve inside.
func TestTransportHostileLayer(t *testing.T) {
	canary := t.TempDir()
	victim := filepath.Join(canary, "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 40) + strings.TrimPrefix(canary, "/")
	for _, c := range []struct {
		name    string
		entries []tarEntry
		// landed: the entry that must be inside the store after a
		// successful pull; empty: the pull must fail saying failed.
		landed, failed string
	}{
		{name: "dot-dot name", entries: []tarEntry{{name: up + "/traversal", body: "pwned"}}, landed: "traversal"},
		{name: "absolute name", entries: []tarEntry{{name: canary + "/absolute", body: "pwned"}}, landed: "absolute"},
		{name: "absolute symlink, written through", entries: []tarEntry{
			{name: "escape", link: canary, typ: tar.TypeSymlink}, {name: "escape/through-abs", body: "pwned"}}, failed: "escape/through-abs"},
		{name: "relative symlink, written through", entries: []tarEntry{
			{name: "escape", link: up, typ: tar.TypeSymlink}, {name: "escape/through-rel", body: "pwned"}}, failed: "escape/through-rel"},
		{name: "hard link out", entries: []tarEntry{{name: "hard", link: victim, typ: tar.TypeLink}}, failed: "no such file or directory"},
		{name: "dot-dot hard link out", entries: []tarEntry{{name: "hard", link: up + "/victim", typ: tar.TypeLink}}, failed: "no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := fixtures.RawLayer(tarBytes(t, c.entries))
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.AppendLayers(enginetest.NewImage(t, enginetest.OCI()), l)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "hostile.tar")
			enginetest.WriteOCIArchive(t, path, img, nil)
			e := enginetest.NewEngine(t)
			_, err = e.Pull(context.Background(), "oci-archive:"+path, policy.Always, nil)
			checkCanary(t, canary, victim)
			switch {
			case c.failed != "" && err == nil:
				t.Fatalf("pulled; want an error saying %q", c.failed)
			case c.failed != "" && !strings.Contains(err.Error(), c.failed):
				t.Errorf("error %q does not say %q", err, c.failed)
			case c.landed != "" && err != nil:
				t.Fatal(err)
			case c.landed != "" && !inTree(t, e.Store().GraphRoot(), c.landed):
				t.Errorf("%s is nowhere in the store", c.landed)
			}
		})
	}
}

// Hostile oci-archives: c/image extracts an oci-archive into a temporary
// directory without a chroot, and a symlink entry followed by a file
// through it would write anywhere (as root). Such archives are refused
// before extraction, naming the entry, and the canary stays untouched.
func TestTransportHostileOCIArchive(t *testing.T) {
	canary := t.TempDir()
	victim := filepath.Join(canary, "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 40) + strings.TrimPrefix(canary, "/")
	for _, c := range []struct {
		name    string
		entries []tarEntry
		say     string
	}{
		{"symlink written through", []tarEntry{{name: "escape", link: canary, typ: tar.TypeSymlink}, {name: "escape/outer", body: "pwned"}}, `entry "escape" is a symlink`},
		{"dot-dot name", []tarEntry{{name: up + "/outer", body: "pwned"}}, "is outside the archive"},
		{"absolute name", []tarEntry{{name: canary + "/outer", body: "pwned"}}, "is outside the archive"},
		{"hard link", []tarEntry{{name: "hard", link: victim, typ: tar.TypeLink}}, `entry "hard" is of tar type`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hostile.tar")
			good := filepath.Join(t.TempDir(), "good.tar")
			enginetest.WriteOCIArchive(t, good, enginetest.NewImage(t, enginetest.OCI()), nil)
			prependEntries(t, good, path, c.entries)
			e := enginetest.NewEngine(t)
			_, err := e.Pull(context.Background(), "oci-archive:"+path, policy.Always, nil)
			checkCanary(t, canary, victim)
			if k := pullerrors.Classify(err); k != pullerrors.InvalidArgument {
				t.Fatalf("kind %v, want invalid-argument: %v", k, err)
			}
			if !strings.Contains(err.Error(), c.say) {
				t.Errorf("error %q does not say %q", err, c.say)
			}
		})
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte // tar.TypeReg when zero
}

func tarBytes(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeEntries(t, tw, entries)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeEntries(t *testing.T, tw *tar.Writer, entries []tarEntry) {
	t.Helper()
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
}

// prependEntries copies the tar at from to to, with entries first.
func prependEntries(t *testing.T, from, to string, entries []tarEntry) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeEntries(t, tw, entries)
	copyTarEntries(t, tw, in)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTarEntries writes every entry of the tar in into tw.
func copyTarEntries(t *testing.T, tw *tar.Writer, in io.Reader) {
	t.Helper()
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
}

// checkCanary fails unless dir holds only victim, unchanged.
func checkCanary(t *testing.T, dir, victim string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(victim) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("written outside the store: %s now holds %q", dir, names)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "untouched" {
		t.Errorf("victim changed: %q, %v", b, err)
	}
}

// inTree reports whether a file named base exists under root.
func inTree(t *testing.T, root, base string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == base {
			found = true
			return filepath.SkipAll
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// dockerArchiveID is the image ID of item i of a docker-archive: the
// sha256 of the config file its manifest.json names.
func dockerArchiveID(t *testing.T, path string, i int) string {
	t.Helper()
	var items []struct{ Config string }
	if err := json.Unmarshal(tarFile(t, path, "manifest.json"), &items); err != nil {
		t.Fatal(err)
	}
	return sha256Hex(tarFile(t, path, items[i].Config))
}

// ociConfigID is the config digest of the one image of an oci-archive.
func ociConfigID(t *testing.T, path string) string {
	t.Helper()
	var index v1.IndexManifest
	if err := json.Unmarshal(tarFile(t, path, "index.json"), &index); err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(tarFile(t, path, "blobs/sha256/"+index.Manifests[0].Digest.Hex), &m); err != nil {
		t.Fatal(err)
	}
	return m.Config.Digest.Hex
}

// ociLayoutConfigID is the config digest of entry i of an OCI layout.
func ociLayoutConfigID(t *testing.T, dir string, i int) string {
	t.Helper()
	index := readJSON[v1.IndexManifest](t, filepath.Join(dir, "index.json"))
	return readJSON[v1.Manifest](t, filepath.Join(dir, "blobs/sha256", index.Manifests[i].Digest.Hex)).Config.Digest.Hex
}

// instanceConfigID is the config digest of the instance the (single)
// multi-arch index of an OCI layout lists for platform p.
func instanceConfigID(t *testing.T, dir, p string) string {
	t.Helper()
	index := readJSON[v1.IndexManifest](t, filepath.Join(dir, "index.json"))
	list := readJSON[v1.IndexManifest](t, filepath.Join(dir, "blobs/sha256", index.Manifests[0].Digest.Hex))
	for _, d := range list.Manifests {
		if d.Platform != nil && (platform.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}).String() == p {
			return readJSON[v1.Manifest](t, filepath.Join(dir, "blobs/sha256", d.Digest.Hex)).Config.Digest.Hex
		}
	}
	t.Fatalf("%s lists no %s instance", dir, p)
	return ""
}

func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// tarFile returns the content of the entry name in the tar at path.
func tarFile(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, path, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
