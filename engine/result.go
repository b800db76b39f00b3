package engine

import (
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
)

// Outcome says how a successful Pull got its images.
type Outcome int

// The outcomes of a successful pull.
const (
	// Pulled: the image was copied from its source.
	Pulled Outcome = iota
	// UpToDate: policy newer found the registry's digest equal to the local
	// image's; nothing was copied.
	UpToDate
	// UsedLocal: the local image was used without asking the registry
	// (policy missing or never, or the input was an image ID).
	UsedLocal
	// LocalFallback: policy newer could not reach a conclusion with the
	// registry and used the local image; Result.RemoteErr says why.
	LocalFallback
)

var outcomeNames = [...]string{
	Pulled:        "pulled",
	UpToDate:      "up-to-date",
	UsedLocal:     "used-local",
	LocalFallback: "local-fallback",
}

// String returns a stable lowercase name, e.g. "up-to-date".
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "unknown"
	}
	return outcomeNames[o]
}

// MarshalText writes the String form.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Image is a local image a pull produced or used.
type Image struct {
	// ID is the store's image ID (the config digest's hex).
	ID string `json:"id"`
	// Names are the image's names in the store, e.g.
	// "quay.io/libpod/alpine:latest".
	Names []string `json:"names,omitempty"`
	// Digest is the digest of the manifest as pulled (the instance's, for a
	// manifest list), or the image's main digest when nothing was copied.
	Digest digest.Digest `json:"digest,omitempty"`
	// Platform is what the image's config declares.
	Platform platform.Platform `json:"platform"`
	// Size is the image's size in the store, in bytes.
	Size int64 `json:"size"`
}

// Result says what a successful Pull did.
//
// Its JSON form (the CLI's --result) uses the lowerCamel names of the
// struct tags; a platform is spelled as in OCI ({"os","architecture",
// "variant"}), Outcome and Policy as their String forms, errors as their
// messages, sizes in bytes and Duration in nanoseconds. The README shows an
// example.
type Result struct {
	// Images are the local images: one, or one per tag with AllTags or a
	// docker-archive with several tags.
	Images []Image `json:"images"`
	// Outcome says whether the images were copied or found locally.
	Outcome Outcome `json:"outcome"`
	// Policy is the policy that applied (Default resolved, platform forcing
	// applied).
	Policy policy.Policy `json:"policy"`
	// PolicyReason explains why Policy differs from the one asked, if it
	// does for a reason other than resolving Default.
	PolicyReason string `json:"policyReason,omitempty"`
	// Reference is the fully qualified reference pulled or used, e.g.
	// "docker.io/library/alpine:latest" for "alpine", or the transport
	// reference ("oci-archive:/path/x.tar") for other sources.
	Reference string `json:"reference"`
	// Candidates are the registry names tried in order, each with its
	// error (nil for the one that succeeded).
	Candidates []pullerrors.CandidateError `json:"candidates,omitempty"`
	// RemoteErr is the registry's error when Outcome is LocalFallback.
	RemoteErr error `json:"-"`
	// Warnings are things the caller should know that did not fail the
	// pull, e.g. an image whose config declares another platform.
	Warnings []string `json:"warnings,omitempty"`
	// ManifestList is the ID of the stored manifest list image, with
	// AllPlatforms or Platforms; Images are then its instances.
	ManifestList string `json:"manifestList,omitempty"`
	// Transfer says what this call fetched and what it reused.
	Transfer Transfer `json:"transfer"`
	// Duration is the wall time of the Pull call. In JSON, "duration" is
	// an integer count of nanoseconds (Go's time.Duration), e.g.
	// 1500000000 for 1.5s.
	Duration time.Duration `json:"duration"`
}

// MarshalJSON adds RemoteErr as its message.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	v := struct {
		plain
		RemoteError string `json:"remoteError,omitempty"`
	}{plain: plain(r)}
	if r.RemoteErr != nil {
		v.RemoteError = r.RemoteErr.Error()
	}
	return json.Marshal(v)
}
