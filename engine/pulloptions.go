package engine

import (
	"time"

	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/progress"
)

// PullOptions tune one Pull. A nil *PullOptions is valid and means the
// defaults; Pull never writes to the options it is given.
type PullOptions struct {
	// Platform asks for the image of that platform from a manifest list.
	// Zero: the Engine's SystemContext choices, else the host. A platform
	// turns policy Missing into Newer (Result.PolicyReason says so); under
	// Never a local image is used only if its config declares that
	// platform.
	Platform platform.Platform

	// Username and Password authenticate to the registry (Basic, or to the
	// token endpoint). Password without Username is an error.
	Username string
	Password string
	// IdentityToken is an OAuth2 refresh token; it excludes Username.
	IdentityToken string
	// AuthFilePath replaces the Engine's auth file for this pull.
	AuthFilePath string
	// RegistryCredentials are credentials per registry, keyed as in an
	// auth file ("quay.io", "localhost:5000", "quay.io/team"; a URL such
	// as "https://index.docker.io/v1/" stands for its registry, and
	// Docker Hub's aliases for docker.io). They replace the auth files for
	// this pull, and exclude AuthFilePath. Username, Password and
	// IdentityToken, when set, apply to every registry and win.
	RegistryCredentials map[string]Credentials
	// CertDir holds client certificates and CA files (*.crt, *.cert, *.key)
	// for the registry, as in containers-certs.d(5).
	CertDir string
	// TLSVerify, when set, turns TLS verification on or off for this pull.
	// Nil: on, unless registries.conf marks the registry insecure.
	TLSVerify *bool

	// AllTags pulls every tag of the repository (registry names only).
	AllTags bool
	// MaxTags bounds the tags an AllTags pull accepts: a repository with
	// more is refused (Unsupported) before any is pulled. Zero:
	// DefaultMaxTags (10,000). The listing is also bounded to 1,000 pages
	// and 32 MiB of tag-list bodies.
	MaxTags int
	// AllPlatforms stores the manifest list and every instance of it, for
	// tools that build or inspect multi-arch images offline (registry names
	// only). Each instance is named repo@<its digest>; the name asked names
	// the list, and later pulls of it resolve to the instance for their
	// platform.
	AllPlatforms bool
	// Platforms is AllPlatforms restricted to the instances chosen for
	// these platforms.
	Platforms []platform.Platform

	// DecryptionKeys decrypt the layers of images encrypted with ocicrypt
	// (podman pull --decryption-key): every key is tried on every encrypted
	// layer. A key that cannot be read, is not a private key, or whose
	// passphrase is missing or wrong is an InvalidArgument error before
	// anything is fetched. An encrypted layer that no key given opens (or
	// with no keys) fails the pull with a Decryption error naming the layer
	// and the image.
	DecryptionKeys []DecryptionKey

	// MaxRetries bounds the retries of a failed transient copy. Nil:
	// containers.conf [engine] retry (3 when unset).
	MaxRetries *int
	// RetryDelay is the delay before every retry, fixed, as Podman's
	// --retry-delay. A registry's Retry-After is honoured by
	// containers/image within one attempt (retry.go); it does not reach
	// the engine's retries. Zero:
	// containers.conf retry_delay (also fixed), else Podman's backoff: 1s,
	// 2s, 4s, ... capped at 30s, with up to 10% jitter.
	RetryDelay time.Duration

	// Progress receives the pull's events: resolution, policy decision,
	// candidates tried, per-blob progress, warnings, and the final done or
	// failed. A slow sink never stalls the pull (byte progress is
	// coalesced, nothing else is dropped); Pull returns after the sink has
	// seen the final event, or when ctx ends. Nil: no events.
	Progress progress.Sink
}
