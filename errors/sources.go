package pullerrors

// This file lists the errors of the packages a pull goes through and the kind
// each one means. Classify (classify.go) decides in which order they are
// consulted; nothing here looks further than the one error it is given.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	storagetypes "go.podman.io/storage/types"
)

// textWindow is how much of an error's text the text rules look at: what
// containers/image and the standard library say comes first; the rest of a
// long text (a registry's 50 MB body) is not worth scanning.
const textWindow = 64 << 10

type strength int

const (
	none   strength = iota // not recognised: look further down the chain
	weak                   // a generic wrapper: decides only if nothing below does
	strong                 // recognised for certain: decides
)

type match struct {
	kind     Kind
	strength strength
}

func certain(k Kind) match  { return match{k, strong} }
func fallback(k Kind) match { return match{k, weak} }

// sentinels are error values that are compared with ==.
var sentinels = []struct {
	err  error
	kind Kind
}{
	// The caller's context.
	{context.Canceled, Canceled},
	{context.DeadlineExceeded, Timeout},

	// c/image's docker transport: a 429 from the token endpoint.
	{docker.ErrTooManyRequests, RateLimited},

	// A body that ended before its announced length: the connection dropped.
	{io.ErrUnexpectedEOF, Unavailable},

	// go.podman.io/image/v5/docker/reference: the name does not parse.
	{reference.ErrReferenceInvalidFormat, InvalidReference},
	{reference.ErrTagInvalidFormat, InvalidReference},
	{reference.ErrDigestInvalidFormat, InvalidReference},
	{reference.ErrNameContainsUppercase, InvalidReference},
	{reference.ErrNameEmpty, InvalidReference},
	{reference.ErrNameTooLong, InvalidReference},
	{reference.ErrNameNotCanonical, InvalidReference},

	// go.podman.io/image/v5/storage.
	{istorage.ErrBlobDigestMismatch, Integrity},
	{istorage.ErrBlobSizeMismatch, Integrity},
	{istorage.ErrInvalidReference, InvalidReference},
	{istorage.ErrPathNotAbsolute, InvalidReference},

	// github.com/opencontainers/go-digest: a digest in a manifest or a blob
	// name that does not parse means the data is corrupt; an algorithm we do
	// not implement is unsupported.
	{digest.ErrDigestInvalidFormat, Integrity},
	{digest.ErrDigestInvalidLength, Integrity},
	{digest.ErrDigestUnsupported, Unsupported},

	// go.podman.io/storage (storage.ErrX are the same values as types.ErrX).
	// The lookups a pull makes for an image, by name or ID, are NotFound;
	// c/image's storage transport returns ErrNotAnImage (its ErrNoSuchImage)
	// where c/storage returns ErrImageUnknown. Everything else is a failure
	// of the local store.
	{storagetypes.ErrImageUnknown, NotFound},
	{storagetypes.ErrNotAnImage, NotFound},
	{storagetypes.ErrNotAnID, NotFound},
	{storagetypes.ErrLayerUnknown, Storage},
	{storagetypes.ErrParentUnknown, Storage},
	{storagetypes.ErrContainerUnknown, Storage},
	{storagetypes.ErrDigestUnknown, Storage},
	{storagetypes.ErrSizeUnknown, Storage},
	{storagetypes.ErrDuplicateID, Storage},
	{storagetypes.ErrDuplicateName, Storage},
	{storagetypes.ErrDuplicateImageNames, Storage},
	{storagetypes.ErrDuplicateLayerNames, Storage},
	{storagetypes.ErrStoreIsReadOnly, Storage},
	{storagetypes.ErrLoadError, Storage},
	{storagetypes.ErrIncompleteOptions, Storage},
	{storagetypes.ErrInvalidMappings, Storage},
	{storagetypes.ErrNoAvailableIDs, Storage},
	{storagetypes.ErrNotSupported, Storage},
	{storagetypes.ErrLayerNotMounted, Storage},
	{storagetypes.ErrLayerHasChildren, Storage},
	{storagetypes.ErrLayerUsedByImage, Storage},
	{storagetypes.ErrLayerUsedByContainer, Storage},
	{storagetypes.ErrImageUsedByContainer, Storage},
	{storagetypes.ErrInvalidBigDataName, Storage},
	{storagetypes.ErrLayerIncorrectContentDigest, Storage},
	{storagetypes.ErrLayerIncorrectContentSize, Storage},
	{storagetypes.ErrLayerContentModified, Storage},
	{storagetypes.ErrLayerDataMissing, Storage},
	{storagetypes.ErrLayerMissing, Storage},
	{storagetypes.ErrImageLayerMissing, Storage},
	{storagetypes.ErrImageDataMissing, Storage},
	{storagetypes.ErrImageDataIncorrectSize, Storage},
}

// recognize returns what err itself (not what it wraps) says about the kind.
func recognize(err error) match {
	for _, s := range sentinels {
		// Every sentinel's dynamic type is comparable, so == cannot panic.
		if err == s.err {
			return certain(s.kind)
		}
	}

	switch e := err.(type) {
	case *boundedError:
		// bound classified the original error whole.
		return certain(e.kind)
	case *RetryAfterError:
		// Transparent: the wrapped error decides. Alone it means "slow down".
		if e == nil || e.Err == nil {
			return certain(RateLimited)
		}
		return match{}

	// Registry error codes: a bare errcode.ErrorCode (what
	// errcode.Errors.UnmarshalJSON produces for a default message) and
	// errcode.Error both implement ErrorCoder.
	case errcode.ErrorCoder:
		return certain(errcodeKind(e.ErrorCode()))

	// c/image's docker transport. ErrUnauthorizedForCredentials (a 401 from
	// the token endpoint) has no Unwrap: its type is all there is to match.
	case docker.ErrUnauthorizedForCredentials, *docker.ErrUnauthorizedForCredentials:
		return certain(Unauthorized)
	case docker.UnexpectedHTTPStatusError:
		return certain(statusKind(e.StatusCode))
	case *docker.UnexpectedHTTPStatusError:
		if e != nil {
			return certain(statusKind(e.StatusCode))
		}

	// Signature policy (go.podman.io/image/v5/signature): a rejection is
	// Denied; a policy.json that does not parse is the server's own
	// configuration problem, so Internal.
	case signature.PolicyRequirementError, *signature.PolicyRequirementError,
		signature.InvalidSignatureError, *signature.InvalidSignatureError:
		return certain(Denied)
	case signature.InvalidPolicyFormatError, *signature.InvalidPolicyFormatError:
		return certain(Internal)

	// Manifests that are not images, or that a destination refuses.
	case manifest.NonImageArtifactError, *manifest.NonImageArtifactError,
		types.ManifestTypeRejectedError, *types.ManifestTypeRejectedError:
		return certain(Unsupported)

	// Certificates and TLS.
	case x509.UnknownAuthorityError, *x509.UnknownAuthorityError,
		x509.CertificateInvalidError, *x509.CertificateInvalidError,
		x509.HostnameError, *x509.HostnameError,
		x509.SystemRootsError, *x509.SystemRootsError,
		x509.ConstraintViolationError, *x509.ConstraintViolationError,
		x509.InsecureAlgorithmError, *x509.InsecureAlgorithmError,
		x509.UnhandledCriticalExtension, *x509.UnhandledCriticalExtension,
		*tls.CertificateVerificationError,
		tls.RecordHeaderError, *tls.RecordHeaderError,
		tls.AlertError, *tls.AlertError,
		*tls.ECHRejectionError:
		return certain(TLS)

	case syscall.Errno:
		if k, ok := errnoKind(e); ok {
			return certain(k)
		}

	case *net.DNSError:
		if e == nil {
			return match{}
		}
		if e.IsTimeout {
			return certain(Timeout)
		}
		return certain(Unavailable)

	// Generic network wrappers: they decide only if nothing below them does.
	case *net.OpError:
		if e == nil {
			return match{}
		}
		// A TLS alert sent by the server arrives as
		// &net.OpError{Op: "remote error", Err: <tls alert>}.
		if e.Op == "remote error" {
			return certain(TLS)
		}
		return fallback(netKind(e))
	case *url.Error:
		if e == nil {
			return match{}
		}
		return fallback(netKind(e))
	case net.Error:
		return fallback(netKind(e))
	}
	return match{}
}

// netKind is Timeout for a network error that timed out, else Unavailable.
func netKind(e net.Error) (k Kind) {
	defer func() {
		if recover() != nil {
			k = Unavailable
		}
	}()
	if e.Timeout() {
		return Timeout
	}
	return Unavailable
}

// errcodeKind maps a registry error code (OCI distribution-spec, as
// registered by docker/distribution's errcode and api/v2 packages).
//
// Decisions beyond the obvious:
//   - DIGEST_INVALID, SIZE_INVALID, MANIFEST_INVALID and MANIFEST_UNVERIFIED
//     are Integrity. The spec defines them as "content does not match its
//     digest/size/schema"; a registry (typically a pull-through cache whose
//     upstream sent bad data) that answers them on a pull is reporting corrupt
//     content, which a retry may cure. A malformed digest in the user's
//     reference never gets that far: the reference parser rejects it first.
//   - NAME_INVALID and TAG_INVALID are InvalidReference.
//   - BLOB_UPLOAD_UNKNOWN and MANIFEST_BLOB_UNKNOWN are NotFound.
//   - UNKNOWN and any code not listed (an unrecognised code string parses to
//     UNKNOWN) follow the HTTP status of the code's descriptor, as
//     statusKind maps it: UNKNOWN's is 500, so Unavailable.
func errcodeKind(code errcode.ErrorCode) Kind {
	switch code {
	case errcode.ErrorCodeUnauthorized:
		return Unauthorized
	case errcode.ErrorCodeDenied:
		return Denied
	case errcode.ErrorCodeTooManyRequests:
		return RateLimited
	case errcode.ErrorCodeUnavailable:
		return Unavailable
	case errcode.ErrorCodeUnsupported:
		return Unsupported
	case v2.ErrorCodeNameUnknown, v2.ErrorCodeManifestUnknown, v2.ErrorCodeBlobUnknown,
		v2.ErrorCodeBlobUploadUnknown, v2.ErrorCodeManifestBlobUnknown:
		return NotFound
	case v2.ErrorCodeNameInvalid, v2.ErrorCodeTagInvalid:
		return InvalidReference
	case v2.ErrorCodeDigestInvalid, v2.ErrorCodeSizeInvalid,
		v2.ErrorCodeManifestInvalid, v2.ErrorCodeManifestUnverified:
		return Integrity
	case v2.ErrorCodePaginationNumberInvalid:
		return InvalidArgument
	}
	return statusKind(code.Descriptor().HTTPStatusCode)
}

// statusKind maps an HTTP status a registry (or its token endpoint) answered.
func statusKind(status int) Kind {
	switch {
	case status == http.StatusUnauthorized:
		return Unauthorized
	case status == http.StatusForbidden:
		return Denied
	case status == http.StatusNotFound, status == http.StatusGone:
		return NotFound
	case status == http.StatusMethodNotAllowed:
		return Unsupported
	case status == http.StatusRequestTimeout:
		return Timeout
	case status == http.StatusTooManyRequests:
		return RateLimited
	case status >= 500 && status <= 599:
		return Unavailable
	}
	return Internal
}

// errnoKind maps system call errors: a full disk or quota and other local
// file system failures are Storage, connection failures Unavailable.
func errnoKind(e syscall.Errno) (Kind, bool) {
	switch e {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO,
		syscall.EACCES, syscall.EPERM, syscall.EMFILE, syscall.ENFILE:
		return Storage, true
	case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EHOSTUNREACH, syscall.EHOSTDOWN, syscall.ENETUNREACH,
		syscall.ENETDOWN, syscall.ENETRESET, syscall.EPIPE:
		return Unavailable, true
	case syscall.ETIMEDOUT:
		return Timeout, true
	case syscall.ENOENT:
		return NotFound, true
	case syscall.ENAMETOOLONG:
		// A path in the input (a transport reference) that no file system
		// accepts: the name cannot work.
		return InvalidReference, true
	}
	return Internal, false
}

// textRules match the message of the innermost error of a chain, for errors
// that have no exported type or value. Checked in order; the first match wins.
var textRules = []struct {
	substr string
	kind   Kind
}{
	// c/image internal/manifest: ChooseInstance found no match.
	{"no image found in manifest list for architecture", PlatformNotFound},
	{"no image found in image index for architecture", PlatformNotFound},

	// c/image copy and image: data that does not match its digest.
	{"Digest did not match, expected", Integrity},
	{"does not match expected", Integrity}, // "blob digest %s does not match expected %s"
	{"Manifest does not match provided manifest digest", Integrity},
	{"Image manifest does not match selected manifest digest", Integrity},
	{"Digest of source image's manifest would not match destination reference", Integrity},

	// Content a registry should never send: a manifest, config or other
	// document over containers/image's size limits (iolimits.ReadAtMost;
	// 4 MiB for manifests and configs), and a manifest served with a
	// content type that is not a manifest's (an HTML page: containers/image
	// takes it for schema 1 and finds the wrong schemaVersion). Bad upstream
	// content, so Integrity (502); permanentContent keeps them from being
	// retried.
	{"exceeded maximum allowed size of", Integrity},
	{"unsupported schema version", Integrity},

	// A path no file system accepts (a 5,000-character path in a transport
	// reference), when the errno was flattened to text.
	{"file name too long", InvalidReference},

	// c/image copy: a manifest list whose instance is itself a list (or
	// another shape containers/image cannot store).
	{"Unexpectedly received a manifest list instead of a manifest for a single image", Unsupported},

	// net/http: an https request answered in plain HTTP.
	{"http: server gave HTTP response to HTTPS client", TLS},

	// Registries blocked by configuration (c/image, libimage).
	{"is blocked in one of", Denied},
	{"it is in the blocked registries list", Denied},
	{"not in allowed registries list", Denied},

	// Short names that cannot be resolved without asking, and names that
	// do not parse (c/image shortnames and alltransports, libimage).
	{"invalid reference format", InvalidReference}, // reference.ParseNormalizedNamed's own errors.New
	{"repository name must be lowercase", InvalidReference},
	{"did not resolve to an alias and no", InvalidReference},
	{"short-name resolution enforced but cannot prompt without a TTY", InvalidReference},
	{"expected colon-separated transport:reference", InvalidReference},
	{"Invalid image name", InvalidReference},
	{"invalid format: no 64-byte hexadecimal value", InvalidReference},

	// Unsupported operations and formats.
	{"pulling all tags is not supported for", Unsupported},
	{"Unimplemented manifest MIME type", Unsupported},
	{"Unimplemented manifest list MIME type", Unsupported},

	// Invalid options (libimage wording).
	{"unsupported pull policy", InvalidArgument},
	{"cannot use the multiple credential sources", InvalidArgument},

	// Errors flattened to text (%v instead of %w) on their way up.
	{"x509: ", TLS},
	{"tls: ", TLS},
	{"i/o timeout", Timeout},
	{"Client.Timeout exceeded", Timeout},
	{"TLS handshake timeout", Timeout},
	{"connection refused", Unavailable},
	{"connection reset by peer", Unavailable},
	{"no such host", Unavailable},
	{"network is unreachable", Unavailable},
	{"no route to host", Unavailable},
	{"broken pipe", Unavailable},
	{"no space left on device", Storage},
	{"disk quota exceeded", Storage},
}

// unexpectedResponse matches c/image's unexported unexpectedHTTPResponseError,
// the error for a 4xx answer whose body is not a registry error document
// (quay's HTML 404, Docker Hub's bare-text 429).
var unexpectedResponse = regexp.MustCompile(`error parsing HTTP (\d{3}) response body`)

// textHead is the start of err's text that the text rules read: they
// match what containers/image and the standard library say first; the
// rest of a long text is a registry's body.
func textHead(err error) string {
	s := errorText(err)
	if len(s) > textWindow {
		s = s[:textWindow]
	}
	return s
}

// matchText classifies the innermost error of a chain by its message.
func matchText(err error) (Kind, bool) {
	msg := textHead(err)
	if m := unexpectedResponse.FindStringSubmatch(msg); m != nil {
		status, _ := strconv.Atoi(m[1])
		return statusKind(status), true
	}
	for _, r := range textRules {
		if strings.Contains(msg, r.substr) {
			return r.kind, true
		}
	}
	return Internal, false
}

// errorText returns err.Error(), or "" if that panics (a typed nil pointer,
// an error type with a nil field).
func errorText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	return err.Error()
}
