package pullerrors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/storage"
)

type classifyCase struct {
	name string
	err  error
	want Kind
}

func runClassify(t *testing.T, cases []classifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("test case built a nil error")
			}
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// registryBody parses a registry error document the way c/image does
// (errcode.Errors.UnmarshalJSON), which turns default messages into bare
// errcode.ErrorCode values.
func registryBody(t *testing.T, body string) error {
	t.Helper()
	var errs errcode.Errors
	if err := json.Unmarshal([]byte(body), &errs); err != nil {
		t.Fatalf("parsing %s: %v", body, err)
	}
	return errs
}

// A kind decided at the source wins over everything the chain holds.
func TestClassifyMarkedKindWinsFirst(t *testing.T) {
	runClassify(t, []classifyCase{
		{"wrapped sentinel", fmt.Errorf("looking up image: %w", ErrNotFound), NotFound},
		{"sentinel next to a registry code", fmt.Errorf("%w: %w", ErrInvalidArgument, v2.ErrorCodeManifestUnknown), InvalidArgument},
		{"Wrap beats the code it wraps", Wrap(InvalidArgument, v2.ErrorCodeManifestUnknown), InvalidArgument},
		{"Wrap beats a cancellation below it", Wrap(Storage, fmt.Errorf("committing: %w", context.Canceled)), Storage},
		{"Errorf", Errorf(Unsupported, "pulling all tags from %s: %w", "oci:/x", io.EOF), Unsupported},
		{"outermost Wrap decides", Wrap(NotFound, Wrap(InvalidArgument, io.EOF)), NotFound},
		{"PullError keeps its kind when wrapped", fmt.Errorf("engine: %w", &PullError{Kind: Denied, Err: v2.ErrorCodeManifestUnknown}), Denied},
		{"Kind.Sentinel", Unavailable.Sentinel(), Unavailable},
	})
}

func TestClassifyRegistryErrorCodes(t *testing.T) {
	runClassify(t, []classifyCase{
		// Bare errcode.ErrorCode, what a default-message body parses to.
		{"bare UNAUTHORIZED", errcode.ErrorCodeUnauthorized, Unauthorized},
		{"bare DENIED", errcode.ErrorCodeDenied, Denied},
		{"bare NAME_UNKNOWN", v2.ErrorCodeNameUnknown, NotFound},
		{"bare MANIFEST_UNKNOWN", v2.ErrorCodeManifestUnknown, NotFound},
		{"bare BLOB_UNKNOWN", v2.ErrorCodeBlobUnknown, NotFound},
		{"bare TOOMANYREQUESTS", errcode.ErrorCodeTooManyRequests, RateLimited},
		{"bare UNAVAILABLE", errcode.ErrorCodeUnavailable, Unavailable},
		{"bare NAME_INVALID", v2.ErrorCodeNameInvalid, InvalidReference},
		{"bare TAG_INVALID", v2.ErrorCodeTagInvalid, InvalidReference},
		{"bare DIGEST_INVALID is Integrity", v2.ErrorCodeDigestInvalid, Integrity},
		{"bare SIZE_INVALID is Integrity", v2.ErrorCodeSizeInvalid, Integrity},
		{"bare MANIFEST_INVALID is Integrity", v2.ErrorCodeManifestInvalid, Integrity},
		{"bare UNSUPPORTED", errcode.ErrorCodeUnsupported, Unsupported},
		{"bare UNKNOWN (HTTP 500) is Unavailable", errcode.ErrorCodeUnknown, Unavailable},
		{"bare PAGINATION_NUMBER_INVALID", v2.ErrorCodePaginationNumberInvalid, InvalidArgument},

		// errcode.Error, what a custom message parses to.
		{"Error TOOMANYREQUESTS", errcode.ErrorCodeTooManyRequests.WithMessage("You have reached your pull rate limit."), RateLimited},
		{"Error NAME_UNKNOWN (ECR)", v2.ErrorCodeNameUnknown.WithMessage("The repository with name 'x' does not exist"), NotFound},
		{"Error DENIED (ECR expired token)", errcode.ErrorCodeDenied.WithMessage("Your authorization token has expired."), Denied},
		{"Error UNAUTHORIZED with detail", errcode.ErrorCodeUnauthorized.WithDetail([]byte("<html>401</html>")), Unauthorized},
		{"Error UNKNOWN from a legacy details body", errcode.ErrorCodeUnknown.WithMessage("something broke"), Unavailable},
		// c/image rewords a default-message errcode.Error as fmt.Errorf("%s%.0w").
		{"reworded errcode.Error", fmt.Errorf("%s%.0w", "manifest unknown", v2.ErrorCodeManifestUnknown.WithMessage("manifest unknown")), NotFound},
		{"wrapped by c/image", fmt.Errorf("reading manifest latest in quay.io/x/y: %w", v2.ErrorCodeManifestUnknown), NotFound},

		// errcode.Errors, parsed from real registry bodies.
		{"Errors: distribution MANIFEST_UNKNOWN", registryBody(t, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":null}]}`), NotFound},
		{"Errors: ghcr anonymous", registryBody(t, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`), Unauthorized},
		{"Errors: unknown code string parses to UNKNOWN", registryBody(t, `{"errors":[{"code":"WHATEVER","message":"x"}]}`), Unavailable},
		{"Errors: header DENIED merged before body UNAUTHORIZED", errcode.Errors{errcode.ErrorCodeDenied.WithMessage("insufficient_scope"), errcode.ErrorCodeUnauthorized}, Denied},
		{"Errors: several MANIFEST_BLOB_UNKNOWN", errcode.Errors{v2.ErrorCodeManifestBlobUnknown, v2.ErrorCodeManifestBlobUnknown}, NotFound},
		{"Errors wrapped", fmt.Errorf("fetching: %w", errcode.Errors{errcode.ErrorCodeUnavailable}), Unavailable},
	})
}

func TestClassifyDockerTransportErrors(t *testing.T) {
	runClassify(t, []classifyCase{
		// No Unwrap on ErrUnauthorizedForCredentials: matched by type, value and pointer.
		{"ErrUnauthorizedForCredentials value", docker.ErrUnauthorizedForCredentials{Err: errcode.ErrorCodeUnauthorized}, Unauthorized},
		{"ErrUnauthorizedForCredentials pointer", &docker.ErrUnauthorizedForCredentials{Err: errcode.ErrorCodeUnauthorized}, Unauthorized},
		{"ErrUnauthorizedForCredentials wrapped", fmt.Errorf("authenticating: %w", docker.ErrUnauthorizedForCredentials{Err: errors.New("incorrect username or password")}), Unauthorized},
		{"ErrTooManyRequests", fmt.Errorf("fetching manifest v2 in x: %w", docker.ErrTooManyRequests), RateLimited},
		{"status 401", docker.UnexpectedHTTPStatusError{StatusCode: 401}, Unauthorized},
		{"status 403 (GAR token endpoint)", fmt.Errorf("Requesting bearer token: %w", docker.UnexpectedHTTPStatusError{StatusCode: 403}), Denied},
		{"status 404", docker.UnexpectedHTTPStatusError{StatusCode: 404}, NotFound},
		{"status 429", docker.UnexpectedHTTPStatusError{StatusCode: 429}, RateLimited},
		{"status 500", docker.UnexpectedHTTPStatusError{StatusCode: 500}, Unavailable},
		{"status 502", docker.UnexpectedHTTPStatusError{StatusCode: 502}, Unavailable},
		{"status 503 pointer", &docker.UnexpectedHTTPStatusError{StatusCode: 503}, Unavailable},
		{"status 504", docker.UnexpectedHTTPStatusError{StatusCode: 504}, Unavailable},
		{"status 408", docker.UnexpectedHTTPStatusError{StatusCode: 408}, Timeout},
		{"status 400", docker.UnexpectedHTTPStatusError{StatusCode: 400}, Internal},
	})
}

func TestClassifyNetworkErrors(t *testing.T) {
	refused := dialClosedPort(t)
	runClassify(t, []classifyCase{
		{"connection refused (real dial)", refused, Unavailable},
		{"connection refused in url.Error", &url.Error{Op: "Get", URL: "https://127.0.0.1:1/v2/", Err: refused}, Unavailable},
		{"DNS not found", &net.DNSError{Err: "no such host", Name: "registry.invalid", IsNotFound: true}, Unavailable},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "registry.example", IsTimeout: true}, Timeout},
		{"read deadline (real)", readTimeout(t), Timeout},
		{"EOF inside url.Error", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: io.EOF}, Unavailable},
		{"unexpected EOF mid-body", fmt.Errorf("reading blob sha256:abc: %w", io.ErrUnexpectedEOF), Unavailable},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, Unavailable},
		{"ETIMEDOUT", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ETIMEDOUT)}, Timeout},
		{"flattened text", errors.New(`pinging container registry r.example: Get "https://r.example/v2/": dial tcp 10.0.0.1:443: connect: connection refused`), Unavailable},
		{"context.Canceled", context.Canceled, Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded, Timeout},
		{"canceled inside url.Error", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: context.Canceled}, Canceled},
		{"deadline inside url.Error", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: context.DeadlineExceeded}, Timeout},
	})
}

func TestClassifyTLSErrors(t *testing.T) {
	runClassify(t, []classifyCase{
		{"unknown authority (real https GET)", untrustedTLSGet(t), TLS},
		{"x509.UnknownAuthorityError (real verify)", verifyUntrusted(t), TLS},
		{"x509.HostnameError (real verify)", verifyWrongHost(t), TLS},
		{"x509.CertificateInvalidError (real verify, expired)", verifyExpired(t), TLS},
		{"tls.RecordHeaderError (real handshake with a plain server)", tlsToPlainServer(t), TLS},
		{"HTTP response to HTTPS client (real GET)", httpsToPlainServer(t), TLS},
		{"tls alert from the server (real, client cert required)", tlsAlertFromServer(t), TLS},
		{"flattened x509 text", errors.New(`Get "https://r.example/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`), TLS},
	})
}

func TestClassifyImageErrors(t *testing.T) {
	_, upper := reference.ParseNormalizedNamed("Foo/Bar")
	_, badDigest := reference.ParseNormalizedNamed("quay.io/foo@sha256:zz")
	_, dockerUpper := docker.ParseReference("//Foo")
	_, garbage := alltransports.ParseImageName("garbage")
	_, named := reference.ParseNamed("busybox") // not canonical
	runClassify(t, []classifyCase{
		{"uppercase repository (ParseNormalizedNamed)", upper, InvalidReference},
		{"bad digest", badDigest, InvalidReference},
		{"docker.ParseReference uppercase", dockerUpper, InvalidReference},
		{"alltransports garbage", garbage, InvalidReference},
		{"ErrNameNotCanonical", named, InvalidReference},
		{"ErrReferenceInvalidFormat wrapped", fmt.Errorf("parsing reference %q: %w", "a:b:c", reference.ErrReferenceInvalidFormat), InvalidReference},
		{"ErrNameContainsUppercase", reference.ErrNameContainsUppercase, InvalidReference},
		{"short name without search registries", errors.New(`short-name "foo" did not resolve to an alias and no unqualified-search registries are defined in "/etc/containers/registries.conf"`), InvalidReference},

		{"platform not found (real ChooseInstance)", platformNotFound(t), PlatformNotFound},
		{"platform not found in an OCI index", fmt.Errorf("choosing image instance: %w", errors.New(`no image found in image index for architecture "s390x", variant "", OS "linux"`)), PlatformNotFound},

		{"storage.ErrBlobSizeMismatch", fmt.Errorf("writing blob: %w", istorage.ErrBlobSizeMismatch), Integrity},
		{"storage.ErrBlobDigestMismatch", istorage.ErrBlobDigestMismatch, Integrity},
		{"copy digest mismatch (real copy.Image)", corruptBlobCopy(t), Integrity},
		{"go-digest invalid length (real Validate)", digest.Digest("sha256:zzz").Validate(), Integrity},
		{"go-digest unsupported algorithm", digest.Digest("md5:" + fmt.Sprintf("%032d", 0)).Validate(), Unsupported},

		{"signature policy rejection (real PolicyContext)", policyRejection(t), Denied},
		{"blocked registry", errors.New("registry r.example is blocked in one of /etc/containers/registries.conf"), Denied},
	})
}

func TestClassifyStorageErrors(t *testing.T) {
	runClassify(t, []classifyCase{
		{"storage.ErrImageUnknown", fmt.Errorf("busybox: %w", storage.ErrImageUnknown), NotFound},
		{"storage.ErrNotAnImage (c/image ErrNoSuchImage)", istorage.ErrNoSuchImage, NotFound},
		{"storage.ErrLayerUnknown", fmt.Errorf("applying layer: %w", storage.ErrLayerUnknown), Storage},
		{"storage.ErrStoreIsReadOnly", storage.ErrStoreIsReadOnly, Storage},
		{"storage.ErrDuplicateName", storage.ErrDuplicateName, Storage},
		{"ENOSPC", &fs.PathError{Op: "write", Path: "/var/lib/containers/storage/vfs/dir/x", Err: syscall.ENOSPC}, Storage},
		{"EDQUOT", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, Storage},
		{"EACCES", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, Storage},
		{"EROFS", &fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.EROFS}, Storage},
		{"ENOENT (local path)", &fs.PathError{Op: "open", Path: "/no/such.tar", Err: syscall.ENOENT}, NotFound},
	})
}

func TestClassifyMultiErrors(t *testing.T) {
	shortName := shortNameCandidates(t, "foo", "a.example", "b.example")
	runClassify(t, []classifyCase{
		{"shortnames: NotFound + Unavailable", shortName.FormatPullErrors([]error{v2.ErrorCodeManifestUnknown, docker.UnexpectedHTTPStatusError{StatusCode: 503}}), Unavailable},
		{"shortnames: NotFound + NotFound", shortName.FormatPullErrors([]error{v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameUnknown}), NotFound},
		{"shortnames: NotFound + DENIED", shortName.FormatPullErrors([]error{v2.ErrorCodeManifestUnknown, errcode.ErrorCodeDenied}), Denied},
		{"join: NotFound + Unauthorized", errors.Join(v2.ErrorCodeManifestUnknown, errcode.ErrorCodeUnauthorized), Unauthorized},
		{"join: Unavailable + Canceled", errors.Join(docker.UnexpectedHTTPStatusError{StatusCode: 503}, context.Canceled), Canceled},
		{"join: RateLimited + Timeout", errors.Join(errcode.ErrorCodeTooManyRequests, context.DeadlineExceeded), Timeout},
		{"join: NotFound + unknown", errors.Join(v2.ErrorCodeManifestUnknown, errors.New("something odd")), Internal},
		{"join: NotFound + NAME_INVALID", errors.Join(v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameInvalid), NotFound},
		{"join: PlatformNotFound + NotFound", errors.Join(v2.ErrorCodeManifestUnknown, errors.New(`no image found in manifest list for architecture "riscv64", variant "", OS "linux"`)), PlatformNotFound},
		{"join with a sentinel branch", errors.Join(Wrap(NotFound, io.EOF), docker.UnexpectedHTTPStatusError{StatusCode: 502}), Unavailable},
		{"fmt.Errorf with two %w", fmt.Errorf("a: %w, b: %w", storage.ErrImageUnknown, &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), Storage},
		{"nested joins", errors.Join(errors.Join(v2.ErrorCodeManifestUnknown), fmt.Errorf("x: %w", errors.Join(errcode.ErrorCodeDenied))), Denied},
	})
}

func TestClassifyUnknown(t *testing.T) {
	runClassify(t, []classifyCase{
		{"plain error", errors.New("boom"), Internal},
		{"empty errcode.Errors", errcode.Errors{}, Internal},
		{"typed nil url.Error", (*url.Error)(nil), Internal},
		{"invalid policy.json (real)", invalidPolicy(t), Internal},
	})
	if got := Classify(nil); got != Internal {
		t.Errorf("Classify(nil) = %s, want internal", got)
	}
}

// TestPrecedence pins the precedence table: it names every kind once, and
// the examples of its documentation (Precedence) hold.
func TestPrecedence(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Precedence() {
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
	}
	if len(seen) != numKinds {
		t.Errorf("precedence lists %d kinds, want %d", len(seen), numKinds)
	}
	wins := []struct{ winner, loser Kind }{
		{Unavailable, NotFound},  // the image may exist on the registry that did not answer
		{Unauthorized, NotFound}, // the image may exist behind authentication
		{Denied, NotFound},       //
		{Denied, Unauthorized},   // DENIED (insufficient_scope) is what c/image reports first
		{Canceled, Unavailable},  // the caller's cancellation dominates
		{Timeout, Unavailable},   // the caller's deadline dominates
		{Canceled, Timeout},      //
		{PlatformNotFound, NotFound},
		{Internal, NotFound},         // NotFound only when every candidate said so
		{NotFound, InvalidReference}, // NAME_INVALID at one registry says less than MANIFEST_UNKNOWN at another
		{RateLimited, Unavailable},
		{Storage, Integrity},
		{Decryption, Unavailable}, // the image was found on one registry, and it is encrypted
		{Decryption, NotFound},    //
	}
	for _, w := range wins {
		if !moreInformative(w.winner, w.loser) {
			t.Errorf("%s should win over %s", w.winner, w.loser)
		}
		if got := Classify(errors.Join(w.loser.Sentinel(), w.winner.Sentinel())); got != w.winner {
			t.Errorf("Classify(join(%s, %s)) = %s", w.loser, w.winner, got)
		}
	}
}

func TestClassifyPathologicalTrees(t *testing.T) {
	// Within the node budget a wrapped code deep in a chain is found.
	shallow := error(v2.ErrorCodeManifestUnknown)
	for range 1000 {
		shallow = fmt.Errorf("x: %w", shallow)
	}
	if got := Classify(shallow); got != NotFound {
		t.Errorf("Classify(1000 wraps of MANIFEST_UNKNOWN) = %s, want not-found", got)
	}
	// Beyond the node budget (maxNodes) nothing more is looked at: the
	// code at depth 5000 is not seen, and the answer is Internal, not a
	// hang or a stack overflow.
	deep := error(v2.ErrorCodeManifestUnknown)
	for range 5000 {
		deep = fmt.Errorf("x: %w", deep)
	}
	if got := Classify(deep); got != Internal {
		t.Errorf("Classify(5000 wraps of MANIFEST_UNKNOWN) = %s, want internal (past the node budget)", got)
	}
	// 5000 branches: the ones within the budget are classified and
	// combined, the rest are not visited.
	wide := make([]error, 5000)
	for i := range wide {
		wide[i] = v2.ErrorCodeManifestUnknown
	}
	if got := Classify(errors.Join(wide...)); got != NotFound {
		t.Errorf("Classify(join of 5000 MANIFEST_UNKNOWN) = %s, want not-found", got)
	}
	if got := Classify(errcode.Errors(wide)); got != NotFound {
		t.Errorf("Classify(errcode.Errors of 5000 MANIFEST_UNKNOWN) = %s, want not-found", got)
	}
	// A branch past the budget is not seen: a timeout that would win by
	// precedence, placed last, loses to what was visited. (Not a bare
	// sentinel: one of those among the branches marks the whole error.)
	timeout := fmt.Errorf("reading: %w", context.DeadlineExceeded)
	wide[len(wide)-1] = timeout
	if got := Classify(errors.Join(wide...)); got != NotFound {
		t.Errorf("Classify(join of 4999 MANIFEST_UNKNOWN and a last timeout) = %s, want not-found (the timeout is past the budget)", got)
	}
	wide[len(wide)-1], wide[0] = v2.ErrorCodeManifestUnknown, timeout
	if got := Classify(errors.Join(wide...)); got != Timeout {
		t.Errorf("Classify(join of a first timeout and 4999 MANIFEST_UNKNOWN) = %s, want timeout", got)
	}
}
