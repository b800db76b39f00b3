package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"go.podman.io/image/v5/types"
)

// DefaultContainersConf is the containers.conf of NewEngine: Podman's
// defaults, but retries after 10ms instead of a second, so tests of
// failing registries stay fast.
const DefaultContainersConf = "[engine]\nretry_delay = \"10ms\"\n"

// EngineOption configures NewEngine.
type EngineOption func(*engineConfig)

type engineConfig struct {
	registries     []string // insecure and unqualified-search, in order
	insecure       []string // insecure only, not searched
	extra          []string // raw registries.conf TOML appended
	aliases        map[string]string
	shortNameMode  string
	containersConf string
	policyJSON     string
	authJSON       string
	driver         string
	modify         []func(*engine.Options)
}

// WithRegistry trusts r (plain HTTP) and adds it to the unqualified-search
// registries, in the order given. Several are allowed.
func WithRegistry(r *Registry) EngineOption {
	return WithRegistryHost(r.Host)
}

// WithRegistryHost is WithRegistry for any host:port, e.g. a registry from
// another test kit.
func WithRegistryHost(host string) EngineOption {
	return func(c *engineConfig) { c.registries = append(c.registries, host) }
}

// WithInsecureRegistry trusts host (plain HTTP) without adding it to the
// unqualified-search registries: for registries reached by qualified names
// or aliases only.
func WithInsecureRegistry(host string) EngineOption {
	return func(c *engineConfig) { c.insecure = append(c.insecure, host) }
}

// WithRegistriesConf appends raw TOML to the generated registries.conf, for
// mirrors, blocked registries and the like.
func WithRegistriesConf(toml string) EngineOption {
	return func(c *engineConfig) { c.extra = append(c.extra, toml) }
}

// WithAlias adds a short-name alias: short → fully qualified target.
func WithAlias(short, target string) EngineOption {
	return func(c *engineConfig) {
		if c.aliases == nil {
			c.aliases = map[string]string{}
		}
		c.aliases[short] = target
	}
}

// WithShortNameMode sets registries.conf short-name-mode ("enforcing",
// "permissive", "disabled").
func WithShortNameMode(mode string) EngineOption {
	return func(c *engineConfig) { c.shortNameMode = mode }
}

// WithContainersConf sets the content of the engine's containers.conf. The
// kit's default is DefaultContainersConf.
func WithContainersConf(toml string) EngineOption {
	return func(c *engineConfig) { c.containersConf = toml }
}

// WithPolicyJSON sets the content of the signature policy (default: accept
// anything).
func WithPolicyJSON(json string) EngineOption {
	return func(c *engineConfig) { c.policyJSON = json }
}

// WithAuthJSON sets the content of the auth file (default: empty).
func WithAuthJSON(json string) EngineOption {
	return func(c *engineConfig) { c.authJSON = json }
}

// WithDriver sets the storage driver (default: DefaultDriver, overlay where
// the kernel allows it, else vfs).
func WithDriver(name string) EngineOption {
	return func(c *engineConfig) { c.driver = name }
}

// WithEngineOptions edits the engine.Options before New, for anything the
// kit does not cover.
func WithEngineOptions(f func(*engine.Options)) EngineOption {
	return func(c *engineConfig) { c.modify = append(c.modify, f) }
}

// NewEngine returns an Engine over a fresh store in a temp dir, configured
// only by files in that dir: nothing is read from /etc/containers or
// written outside it. t.Cleanup closes the engine.
func NewEngine(t testing.TB, opts ...EngineOption) *engine.Engine {
	t.Helper()
	e, err := engine.New(NewEngineOptions(t, opts...))
	if err != nil {
		t.Fatalf("enginetest: creating engine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("enginetest: closing engine: %v", err)
		}
	})
	return e
}

// NewEngineOptions writes the configuration files NewEngine uses and
// returns the engine.Options, for tests that call engine.New themselves
// (e.g. to open two Engines on one store).
func NewEngineOptions(t testing.TB, opts ...EngineOption) engine.Options {
	t.Helper()
	c := engineConfig{
		policyJSON:     `{"default":[{"type":"insecureAcceptAnything"}]}`,
		authJSON:       `{"auths":{}}`,
		shortNameMode:  "permissive",
		containersConf: DefaultContainersConf,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.driver == "" {
		var reason string
		c.driver, reason = DefaultDriver()
		if c.driver != "overlay" {
			t.Logf("enginetest: store on %s: %s", c.driver, reason)
		}
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("enginetest: %v", err)
		}
		return path
	}
	// Signatures are looked up in a temp lookaside, never in the host's
	// /var/lib/containers/sigstore.
	registriesD := filepath.Join(dir, "registries.d")
	if err := os.MkdirAll(registriesD, 0o700); err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	write(filepath.Join("registries.d", "default.yaml"), fmt.Sprintf("default-docker:\n  lookaside: file://%s\n", filepath.Join(dir, "sigstore")))
	store := storeDir(t)
	o := engine.Options{
		RootDir:             filepath.Join(store, "root"),
		RunDir:              filepath.Join(store, "run"),
		GraphDriver:         c.driver,
		RegistriesConfPath:  write("registries.conf", c.registriesConf()),
		SignaturePolicyPath: write("policy.json", c.policyJSON),
		AuthFilePath:        write("auth.json", c.authJSON),
		ContainersConfPath:  write("containers.conf", c.containersConf),
		SystemContext: &types.SystemContext{
			RegistriesDirPath:          registriesD,
			UserShortNameAliasConfPath: filepath.Join(dir, "short-name-aliases.conf"),
			BigFilesTemporaryDir:       dir,
			BlobInfoCacheDir:           filepath.Join(dir, "cache"),
		},
	}
	o.GraphDriverOptions = driverOptions(c.driver)
	for _, f := range c.modify {
		f(&o)
	}
	return o
}

// storeDir is a temp dir for the store, removed when the test ends (after
// the engine is closed). It is not t.TempDir: a test name may hold a comma,
// and overlay's mount options, comma-separated, cannot name such a path
// (storage would then fall back to fuse-overlayfs, or fail).
func storeDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "enginetest-store-")
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("enginetest: removing the store: %v", err)
		}
	})
	return dir
}

func (c *engineConfig) registriesConf() string {
	var b strings.Builder
	quoted := make([]string, len(c.registries))
	for i, r := range c.registries {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	fmt.Fprintf(&b, "unqualified-search-registries = [%s]\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "short-name-mode = %q\n", c.shortNameMode)
	for _, r := range append(c.registries, c.insecure...) {
		fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = true\n", r)
	}
	if len(c.aliases) > 0 {
		b.WriteString("\n[aliases]\n")
		for short, target := range c.aliases {
			fmt.Fprintf(&b, "%q = %q\n", short, target)
		}
	}
	for _, x := range c.extra {
		b.WriteString("\n" + x + "\n")
	}
	return b.String()
}
