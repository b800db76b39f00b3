package pullerrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
	"go.podman.io/storage"
)

func TestPullErrorMatchesThrough(t *testing.T) {
	notKnown := fmt.Errorf("busybox: %w", storage.ErrImageUnknown)
	pe := New("busybox", notKnown)
	if pe.Kind != NotFound {
		t.Fatalf("Kind = %s", pe.Kind)
	}
	var err error = fmt.Errorf("engine: %w", pe) // as a caller may wrap it again
	if !errors.Is(err, ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) = false")
	}
	if !errors.Is(err, storage.ErrImageUnknown) {
		t.Error("errors.Is(err, storage.ErrImageUnknown) = false: libimage users rely on it")
	}
	if errors.Is(err, ErrUnavailable) {
		t.Error("errors.Is(err, ErrUnavailable) = true for a NotFound error")
	}
	var target *PullError
	if !errors.As(err, &target) || target != pe {
		t.Error("errors.As(err, **PullError) failed")
	}

	registry := New("quay.io/x/y", fmt.Errorf("reading manifest: %w", v2.ErrorCodeManifestUnknown))
	var coder errcode.ErrorCoder
	if !errors.As(registry, &coder) || coder.ErrorCode() != v2.ErrorCodeManifestUnknown {
		t.Error("errors.As(err, *errcode.ErrorCoder) does not reach the registry's code")
	}
	status := New("quay.io/x/y", nil, CandidateError{Name: "quay.io/x/y:latest", Err: docker.UnexpectedHTTPStatusError{StatusCode: 502}})
	var ue docker.UnexpectedHTTPStatusError
	if !errors.As(status, &ue) || ue.StatusCode != 502 {
		t.Error("errors.As does not reach a candidate's error")
	}
}

func TestNewKindOfCandidates(t *testing.T) {
	manifestUnknown := fmt.Errorf("reading manifest latest in %s: %w", "x", v2.ErrorCodeManifestUnknown)
	hubDenied := fmt.Errorf("reading manifest latest in docker.io/library/foo: %w", errcode.ErrorCodeDenied.WithMessage("requested access to the resource is denied"))
	quayUnauthorized := fmt.Errorf("reading manifest latest in quay.io/foo: %w", errcode.ErrorCodeUnauthorized.WithMessage("access to the requested resource is not authorized"))
	down := fmt.Errorf("reading manifest: %w", docker.UnexpectedHTTPStatusError{StatusCode: 503})
	badCreds := fmt.Errorf("fetching manifest: %w", docker.ErrUnauthorizedForCredentials{Err: errcode.ErrorCodeUnauthorized})

	c := func(name string, err error, authenticated bool) CandidateError {
		return CandidateError{Name: name, Err: err, Authenticated: authenticated}
	}
	tests := []struct {
		name          string
		err           error
		candidates    []CandidateError
		kind          Kind
		maybeNotFound bool
		says          string
	}{
		{
			name:       "not found everywhere",
			candidates: []CandidateError{c("registry.fedoraproject.org/foo:latest", manifestUnknown, false), c("docker.io/library/foo:latest", manifestUnknown, false)},
			kind:       NotFound, says: "image not found (2 candidates tried): registry.fedoraproject.org/foo:latest: ",
		},
		{
			name:       "not found on one registry, unavailable on another: the image may be there",
			candidates: []CandidateError{c("a.example/foo:latest", manifestUnknown, false), c("b.example/foo:latest", down, false)},
			kind:       Unavailable, says: "registry unavailable (2 candidates tried)",
		},
		{
			name:       "anonymous refusals everywhere: does not exist or requires authentication",
			candidates: []CandidateError{c("docker.io/library/foo:latest", hubDenied, false), c("quay.io/foo:latest", quayUnauthorized, false), c("registry.fedoraproject.org/foo:latest", manifestUnknown, false)},
			kind:       Unauthorized, maybeNotFound: true, says: "repository does not exist or requires authentication (3 candidates tried)",
		},
		{
			name:       "credentials rejected on one registry outweigh the hint",
			candidates: []CandidateError{c("docker.io/library/foo:latest", hubDenied, false), c("quay.io/foo:latest", badCreds, true)},
			kind:       Unauthorized, says: "authentication failed with the given credentials",
		},
		{
			name:       "with credentials, DENIED stays Denied",
			candidates: []CandidateError{c("docker.io/library/foo:latest", hubDenied, true), c("quay.io/foo:latest", manifestUnknown, true)},
			kind:       Denied, says: "access denied for the given credentials",
		},
		{
			name:       "the caller's cancellation in Err decides",
			err:        fmt.Errorf("pulling: %w", context.Canceled),
			candidates: []CandidateError{c("a.example/foo:latest", manifestUnknown, false)},
			kind:       Canceled, says: "pulling foo (a.example/foo:latest): canceled: pulling: context canceled; reading manifest latest in x: manifest unknown",
		},
		{
			name:       "an aggregate Err does not add to the candidates",
			err:        errors.Join(manifestUnknown, manifestUnknown),
			candidates: []CandidateError{c("a.example/foo:latest", manifestUnknown, false), c("b.example/foo:latest", manifestUnknown, false)},
			kind:       NotFound,
		},
		{
			name:       "an explicit kind on Err decides",
			err:        Wrap(InvalidArgument, errors.New("conflicting options")),
			candidates: []CandidateError{c("a.example/foo:latest", manifestUnknown, false)},
			kind:       InvalidArgument,
		},
		{
			name:       "candidates without an error are ignored",
			candidates: []CandidateError{c("a.example/foo:latest", nil, false), c("b.example/foo:latest", down, false)},
			kind:       Unavailable,
		},
		{
			name: "no candidates: Err decides",
			err:  hubDenied,
			kind: Unauthorized, maybeNotFound: true, says: "pulling foo: repository does not exist or requires authentication: reading manifest",
		},
		{
			name: "signature policy rejection is Denied, never MaybeNotFound",
			err:  fmt.Errorf("Source image rejected: %w", policyRejection(t)),
			kind: Denied, says: "rejected by the signature policy",
		},
		{
			name: "nothing known",
			kind: Internal, says: "pulling foo: failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pe := New("foo", tc.err, tc.candidates...)
			if pe.Kind != tc.kind {
				t.Errorf("Kind = %s, want %s", pe.Kind, tc.kind)
			}
			if pe.MaybeNotFound != tc.maybeNotFound {
				t.Errorf("MaybeNotFound = %t, want %t", pe.MaybeNotFound, tc.maybeNotFound)
			}
			if Classify(pe) != tc.kind {
				t.Errorf("Classify = %s, want %s", Classify(pe), tc.kind)
			}
			if !errors.Is(pe, tc.kind.Sentinel()) {
				t.Errorf("errors.Is(err, %s) = false", tc.kind)
			}
			if msg := pe.Error(); !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not contain %q", msg, tc.says)
			}
			assertNoCanary(t, pe)
		})
	}
}

func TestWithAuthenticated(t *testing.T) {
	denied := fmt.Errorf("reading manifest: %w", errDenied())
	pe := New("docker.io/x/y", denied)
	if raw := Classify(denied); raw != Denied {
		t.Fatalf("raw kind %s", raw)
	}
	if pe.Kind != Unauthorized || !pe.MaybeNotFound || HTTPStatus(pe) != 401 {
		t.Errorf("anonymous: Kind=%s MaybeNotFound=%t status=%d", pe.Kind, pe.MaybeNotFound, HTTPStatus(pe))
	}
	pe.WithAuthenticated(true)
	if pe.Kind != Denied || pe.MaybeNotFound || HTTPStatus(pe) != 403 {
		t.Errorf("authenticated: Kind=%s MaybeNotFound=%t status=%d", pe.Kind, pe.MaybeNotFound, HTTPStatus(pe))
	}
	if !strings.Contains(pe.Error(), "access denied for the given credentials") {
		t.Errorf("message %q", pe.Error())
	}
	pe.WithAuthenticated(false)
	if pe.Kind != Unauthorized || !pe.MaybeNotFound {
		t.Errorf("back to anonymous: Kind=%s MaybeNotFound=%t", pe.Kind, pe.MaybeNotFound)
	}

	// New copies the candidates: WithAuthenticated does not write to the caller's slice.
	cs := []CandidateError{{Name: "docker.io/x/y:latest", Err: denied}}
	New("x/y", nil, cs...).WithAuthenticated(true)
	if cs[0].Authenticated {
		t.Error("WithAuthenticated changed the caller's slice")
	}
}

func TestPullErrorMessages(t *testing.T) {
	shortName := shortNameCandidates(t, "foo", "a.example", "b.example")
	tests := []struct {
		name string
		err  *PullError
		want string
	}{
		{
			name: "one candidate named like the input",
			err:  New("quay.io/foo/bar:1", fmt.Errorf("reading manifest 1 in quay.io/foo/bar: %w", v2.ErrorCodeManifestUnknown)),
			want: "pulling quay.io/foo/bar:1: image not found: reading manifest 1 in quay.io/foo/bar: manifest unknown",
		},
		{
			name: "short name and its candidate",
			err: New("fedora", nil, CandidateError{Name: "registry.fedoraproject.org/fedora:latest",
				Err: fmt.Errorf("reading manifest latest in registry.fedoraproject.org/fedora: %w", v2.ErrorCodeManifestUnknown)}),
			want: "pulling fedora (registry.fedoraproject.org/fedora:latest): image not found: reading manifest latest in registry.fedoraproject.org/fedora: manifest unknown",
		},
		{
			name: "shortnames' multi-line aggregate folded into one line",
			err:  New("foo", shortName.FormatPullErrors([]error{v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameUnknown})),
			want: "pulling foo: image not found: 2 errors occurred while pulling: manifest unknown; name unknown",
		},
		{
			name: "several registry errors in one response folded",
			err:  New("x", errcode.Errors{errcode.ErrorCodeDenied.WithMessage("insufficient_scope"), errcode.ErrorCodeUnauthorized}).WithAuthenticated(true),
			want: "pulling x: access denied for the given credentials: errors: denied: insufficient_scope; unauthorized",
		},
		{
			name: "rate limit with its Retry-After",
			err:  New("x", WithRetryAfter(errcode.ErrorCodeTooManyRequests.WithMessage("slow down"), 30e9)),
			want: "pulling x: rate limited by the registry: toomanyrequests: slow down (retry after 30s)",
		},
		{
			name: "disk full",
			err:  New("x", fmt.Errorf("writing blob: %w", &fs.PathError{Op: "write", Path: "/var/lib/containers/x", Err: syscall.ENOSPC})),
			want: "pulling x: local storage is full: writing blob: write /var/lib/containers/x: no space left on device",
		},
		{
			name: "unclassified: no summary, just the error",
			err:  New("x", errors.New("something odd")),
			want: "pulling x: something odd",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error()\n got: %s\nwant: %s", got, tc.want)
			}
			if got := fmt.Sprintf("%v", tc.err); got != tc.want {
				t.Errorf("%%v = %s", got)
			}
			plus := fmt.Sprintf("%+v", tc.err)
			wantPlus := fmt.Sprintf("%s (kind=%s, status=%d", tc.want, tc.err.Kind, HTTPStatus(tc.err))
			if !strings.HasPrefix(plus, wantPlus) {
				t.Errorf("%%+v = %s, want prefix %s", plus, wantPlus)
			}
		})
	}
}

// TestNoCredentialsInMessages puts a canary password in every place a
// credential could reach a message: the input name, URLs with userinfo in
// transport errors, query strings of pre-signed blob URLs, authorization
// headers and JSON documents echoed in errors.
func TestNoCredentialsInMessages(t *testing.T) {
	userinfoURL := &url.Error{Op: "Get", URL: "https://user:" + canary + "@registry.example/v2/", Err: dialClosedPort(t)}
	proxy := fmt.Errorf("proxyconnect tcp: dial http://user:%s@proxy.example:3128: %w", canary, io.EOF)
	presigned := &url.Error{Op: "Get", URL: "https://bucket.s3.amazonaws.com/blob?X-Amz-Credential=AKIA&X-Amz-Signature=" + canary + "&token=" + canary, Err: io.ErrUnexpectedEOF}
	header := fmt.Errorf("registry answered 400 to Authorization: Basic %s", "dXNlcjp"+canary)
	bearer := fmt.Errorf("token rejected: Bearer eyJhbGciOi.%s.sig", canary)
	jsonBody := docker.ErrUnauthorizedForCredentials{Err: errors.New(`{"username":"user","password":"` + canary + `"}`)}
	multi := errors.Join(userinfoURL, presigned)

	errs := map[string]*PullError{
		"name with userinfo":     New("docker://user:"+canary+"@registry.example/x/y:latest", v2.ErrorCodeManifestUnknown),
		"url.Error userinfo":     New("registry.example/x/y", userinfoURL),
		"proxy userinfo":         New("registry.example/x/y", proxy),
		"pre-signed blob URL":    New("registry.example/x/y", presigned),
		"authorization header":   New("registry.example/x/y", header),
		"bearer token":           New("registry.example/x/y", bearer),
		"JSON password":          New("registry.example/x/y", jsonBody).WithAuthenticated(true),
		"candidates":             New("y", multi, CandidateError{Name: "https://u:" + canary + "@a.example/y", Err: userinfoURL}, CandidateError{Name: "b.example/y", Err: presigned}),
		"candidate with Err set": New("y", errors.Join(userinfoURL, context.Canceled), CandidateError{Name: "a.example/y", Err: proxy}),
	}
	for name, pe := range errs {
		t.Run(name, func(t *testing.T) {
			assertNoCanary(t, pe)
			for _, c := range pe.Candidates {
				if strings.Contains(c.Error(), canary) {
					t.Errorf("CandidateError.Error() carries the password: %s", c.Error())
				}
			}
			var buf strings.Builder
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", slog.Any("pull", pe))
			if !strings.Contains(buf.String(), `"kind":"`+pe.Kind.String()+`"`) {
				t.Errorf("slog output lacks the kind: %s", buf.String())
			}
		})
	}
}

func TestWrapAndErrorf(t *testing.T) {
	if Wrap(NotFound, nil) != nil {
		t.Error("Wrap(k, nil) != nil")
	}
	inner := fmt.Errorf("no such image: %w", storage.ErrImageUnknown)
	w := Wrap(InvalidArgument, inner)
	if w.Error() != inner.Error() {
		t.Errorf("Wrap changed the message: %q", w.Error())
	}
	if !errors.Is(w, ErrInvalidArgument) || !errors.Is(w, storage.ErrImageUnknown) {
		t.Error("Wrap hides the sentinel or the wrapped error")
	}
	e := Errorf(Unsupported, "pulling all tags from %s: %w", "oci:/x", inner)
	if Classify(e) != Unsupported || !errors.Is(e, storage.ErrImageUnknown) || e.Error() != "pulling all tags from oci:/x: "+inner.Error() {
		t.Errorf("Errorf: %v", e)
	}
}

func TestCandidateError(t *testing.T) {
	c := CandidateError{Name: "quay.io/x:1", Err: v2.ErrorCodeManifestUnknown}
	if c.Error() != "quay.io/x:1: manifest unknown" {
		t.Errorf("Error() = %q", c.Error())
	}
	if !errors.Is(c, v2.ErrorCodeManifestUnknown) || Classify(c) != NotFound {
		t.Error("CandidateError hides its error")
	}
}

func TestNilPullError(t *testing.T) {
	var pe *PullError
	if pe.Error() != "<nil>" || pe.Is(ErrInternal) || pe.Unwrap() != nil {
		t.Error("nil *PullError misbehaves")
	}
	_ = fmt.Sprintf("%v %+v %#v %q", pe, pe, pe, pe)
}
