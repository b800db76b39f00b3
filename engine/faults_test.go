package engine_test

// Fault tests: the real engine pulls from the kit's registry while fault
// middleware answers the way real registries do (recorded responses in
// testdata/registry-responses) or breaks the transfer. faultRows is the
// table the README's "Errors" section shows; TestFaultTableInREADME keeps
// the two equal.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/storage"
)

const (
	faultRepo       = "team/app"
	faultTag        = "v1"
	faultUser       = "alice"
	faultCanary     = "canary-F4ult-pa55-9c2e" // the password; must never show
	faultMaxRetries = 2
	// retryLogMessage is the engine's log record before each retry of a copy.
	retryLogMessage = "retrying after a transient error"
)

var responsesDir = filepath.Join("..", "testdata", "registry-responses")

// registryAuth is the authentication the kit's registry itself requires.
type registryAuth int

const (
	open  registryAuth = iota // none
	basic                     // HTTP Basic, as ECR and htpasswd registries
	token                     // a Bearer token from a token endpoint, as Docker Hub, quay, ghcr, GAR, Harbor
)

// faultRow is one fault and what a pull through it must do.
//
// Each row runs twice. "persistent": the fault answers every matching
// request. "once": it answers the first only, so a retry would succeed.
type faultRow struct {
	// For the README.
	name   string // the fault, and whose behaviour it is
	answer string // what the registry answers

	// How the test makes it.
	file     string                                                         // a recorded response in testdata/registry-responses
	edit     func(*enginetest.Response)                                     // adjusts the recorded response
	fault    func(enginetest.RequestMatcher, int) enginetest.RegistryOption // a kit fault, when file is ""
	on       enginetest.RequestKind                                         // the requests the fault answers; BlobGet: the second layer's
	auth     registryAuth
	creds    bool // pull with username and password (the canary)
	down     bool // no registry listens: connection refused
	tls      bool // HTTPS with a certificate the engine does not trust
	deadline bool // the pull's context has a short deadline
	seed     bool // a good image is stored under the name first; the failed pull must leave it

	// What the pull must do when the fault persists.
	kind          pullerrors.Kind
	status        int
	retryable     bool
	maybeNotFound bool
	// perAttempt is how many of the `on` requests containers/image sends in
	// one copy attempt: more than one where it retries by itself (cimage).
	perAttempt int
	cimage     string // containers/image's own retry, for the README
}

// engineRetries is the number of retries the engine makes when the fault
// persists.
func (r faultRow) engineRetries() int {
	if r.retryable {
		return faultMaxRetries
	}
	return 0
}

// recoversOnce: a fault that happens once is survived exactly when it is
// transient, by containers/image's own retry or the engine's.
func (r faultRow) recoversOnce() bool { return r.retryable }

// runsOnce: faults the test cannot make happen just once.
func (r faultRow) runsOnce() bool { return !r.tls }

// retriedBy says who retries, for the README.
func (r faultRow) retriedBy() string {
	var by []string
	if r.perAttempt > 1 {
		by = append(by, "containers/image ("+r.cimage+")")
	}
	if r.retryable {
		by = append(by, "the engine")
	}
	if len(by) == 0 {
		return "no"
	}
	return strings.Join(by, ", then ")
}

var rateLimitEdit = func(r *enginetest.Response) {
	// containers/image waits as Retry-After says (else 2s doubling) before
	// each of its 5 attempts; 0 keeps the test fast.
	r.Header.Set("Retry-After", "0")
}

var faultRows = []faultRow{
	{
		name: "Docker Hub: missing or private repository, anonymous", answer: "401 UNAUTHORIZED, challenge `error=\"insufficient_scope\"`",
		file: "dockerhub-missing-repo.http", on: enginetest.ManifestGet, auth: token,
		kind: pullerrors.Unauthorized, status: 401, maybeNotFound: true,
		perAttempt: 2, cimage: "once with the challenge's scope",
	},
	{
		name: "Docker Hub: pull rate limit", answer: "429 TOOMANYREQUESTS, Retry-After",
		file: "dockerhub-toomanyrequests.http", edit: rateLimitEdit, on: enginetest.ManifestGet, auth: token, creds: true,
		kind: pullerrors.RateLimited, status: 429, retryable: true,
		perAttempt: 5, cimage: "5 attempts, honours Retry-After",
	},
	{
		name: "Docker Hub: abuse rate limit", answer: "429, plain-text body",
		file: "dockerhub-abuse-429.http", edit: rateLimitEdit, on: enginetest.ManifestGet, auth: token, creds: true,
		kind: pullerrors.RateLimited, status: 429, retryable: true,
		perAttempt: 5, cimage: "5 attempts, honours Retry-After",
	},
	{
		name: "Docker Hub: wrong password", answer: "token endpoint 401 `{\"details\":\"incorrect username or password\"}`",
		file: "dockerhub-token-bad-credentials.http", on: enginetest.Token, auth: token, creds: true,
		kind: pullerrors.Unauthorized, status: 401,
		perAttempt: 1,
	},
	{
		name: "quay.io: missing or private repository, anonymous", answer: "401 UNAUTHORIZED, challenge without `error=`",
		file: "quay-missing-repo.http", on: enginetest.ManifestGet, auth: token,
		kind: pullerrors.Unauthorized, status: 401, maybeNotFound: true,
		perAttempt: 1,
	},
	{
		name: "quay.io: HTML 404", answer: "404, HTML body",
		file: "quay-html-404.http", on: enginetest.ManifestGet,
		kind: pullerrors.NotFound, status: 404,
		perAttempt: 1,
	},
	{
		name: "ghcr.io: stale token", answer: "403 DENIED",
		file: "ghcr-denied.http", on: enginetest.ManifestGet, auth: token, creds: true,
		kind: pullerrors.Denied, status: 403,
		perAttempt: 1,
	},
	{
		name: "a registry's own 403 DENIED, default message, anonymous", answer: "403 DENIED `requested access to the resource is denied`",
		file: "denied-403-default.http", on: enginetest.ManifestGet, auth: token,
		kind: pullerrors.Denied, status: 403, maybeNotFound: true, // not the 401 of Docker Hub's challenge (issue 22, 15)
		perAttempt: 1,
	},
	{
		name: "quay.io: 403 DENIED with `detail`, anonymous", answer: "403 DENIED, default message, `\"detail\":{}`",
		file: "quay-denied-403.http", on: enginetest.ManifestGet, auth: token,
		kind: pullerrors.Denied, status: 403, maybeNotFound: true,
		perAttempt: 1,
	},
	{
		name: "Google Artifact Registry: no access, anonymous", answer: "token endpoint 403 DENIED",
		file: "gar-token-denied.http", on: enginetest.Token, auth: token,
		kind: pullerrors.Denied, status: 403, maybeNotFound: true, // the registry's 403 is kept (issue 10)
		perAttempt: 1,
	},
	{
		name: "Google Artifact Registry: no access, with credentials", answer: "token endpoint 403 DENIED",
		file: "gar-token-denied.http", on: enginetest.Token, auth: token, creds: true,
		kind: pullerrors.Denied, status: 403,
		perAttempt: 1,
	},
	{
		name: "ECR: missing repository", answer: "404 NAME_UNKNOWN",
		file: "ecr-name-unknown.http", on: enginetest.ManifestGet, auth: basic, creds: true,
		kind: pullerrors.NotFound, status: 404,
		perAttempt: 1,
	},
	{
		name: "ECR: expired token", answer: "403 DENIED",
		file: "ecr-expired-token.http", on: enginetest.ManifestGet, auth: basic, creds: true,
		kind: pullerrors.Denied, status: 403,
		perAttempt: 1,
	},
	{
		name: "Harbor: no access, anonymous", answer: "401 UNAUTHORIZED",
		file: "harbor-unauthorized.http", on: enginetest.ManifestGet, auth: token,
		kind: pullerrors.Unauthorized, status: 401, maybeNotFound: true,
		perAttempt: 1,
	},
	{
		name: "distribution: missing tag", answer: "404 MANIFEST_UNKNOWN",
		file: "distribution-manifest-unknown.http", on: enginetest.ManifestGet,
		kind: pullerrors.NotFound, status: 404,
		perAttempt: 1,
	},
	{
		name: "distribution: missing repository", answer: "404 NAME_UNKNOWN",
		file: "distribution-name-unknown.http", on: enginetest.ManifestGet,
		kind: pullerrors.NotFound, status: 404,
		perAttempt: 1,
	},
	{
		name: "token endpoint rate limit", answer: "token endpoint 429",
		file: "token-429.http", on: enginetest.Token, auth: token, creds: true,
		kind: pullerrors.RateLimited, status: 429, retryable: true,
		perAttempt: 1,
	},
	{
		name: "500", answer: "500, plain-text body",
		file: "500.http", on: enginetest.ManifestGet,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
		perAttempt: 1,
	},
	{
		name: "502", answer: "502 from a proxy, HTML body",
		file: "502.http", on: enginetest.ManifestGet,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
		perAttempt: 1,
	},
	{
		name: "503 with Retry-After", answer: "503 UNAVAILABLE, Retry-After: 120 (the engine cannot see it)",
		file: "503.http", on: enginetest.ManifestGet, seed: true,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
		perAttempt: 1,
	},
	{
		name: "connection refused", answer: "nothing listens",
		down: true, on: enginetest.ManifestGet,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
	},
	{
		name: "connection reset mid-blob", answer: "half a layer, then RST",
		fault: enginetest.ResetConnection, on: enginetest.BlobGet,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
		perAttempt: 2, cimage: "resumes the blob once with a Range request",
	},
	{
		name: "truncated blob", answer: "half a layer, then EOF",
		fault: enginetest.TruncateBody, on: enginetest.BlobGet, seed: true,
		kind: pullerrors.Unavailable, status: 503, retryable: true,
		perAttempt: 2, cimage: "resumes the blob once with a Range request",
	},
	{
		name: "blob with a wrong digest", answer: "a layer with one byte changed",
		fault: enginetest.CorruptBody, on: enginetest.BlobGet, seed: true,
		kind: pullerrors.Integrity, status: 502, retryable: true,
		perAttempt: 1,
	},
	{
		name: "slow registry, the caller's deadline", answer: "no answer before the context's deadline",
		fault: enginetest.Stall, on: enginetest.ManifestGet, deadline: true,
		kind: pullerrors.Timeout, status: 504,
		perAttempt: 1,
	},
	{
		name: "self-signed TLS certificate, not trusted", answer: "a certificate no CA signed",
		tls: true, on: enginetest.Ping,
		kind: pullerrors.TLS, status: 502,
	},
}

func TestFaults(t *testing.T) {
	for _, row := range faultRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			t.Run("persistent", func(t *testing.T) { runFault(t, row, -1) })
			if row.runsOnce() {
				t.Run("once", func(t *testing.T) { runFault(t, row, 1) })
			}
		})
	}
}

// runFault pulls through the fault of row, answering at most times
// requests (times < 0: all), and checks what the pull did.
func runFault(t *testing.T, row faultRow, times int) {
	ctx := context.Background()
	imgOpts := []enginetest.ImageOption{enginetest.WithRandomLayer(t, 64<<10)}
	if row.on == enginetest.BlobGet {
		imgOpts = append(imgOpts, enginetest.WithRandomLayer(t, 64<<10)) // the fault hits the second
	}
	img := enginetest.NewImage(t, imgOpts...)
	layers := layerDigests(t, img)
	blob := layers[len(layers)-1]

	// The fault is armed once the registry is set up (and the seed pulled).
	var armed atomic.Bool
	match := enginetest.And(func(*http.Request) bool { return armed.Load() }, enginetest.Kind(row.on))
	if row.on == enginetest.BlobGet {
		match = enginetest.And(match, enginetest.Blob(blob))
	}
	var regOpts []enginetest.RegistryOption
	switch row.auth {
	case basic:
		regOpts = append(regOpts, enginetest.WithBasicAuth(faultUser, faultCanary))
	case token:
		regOpts = append(regOpts, enginetest.WithTokenAuth(faultUser, faultCanary))
	}
	switch {
	case row.file != "":
		resp := enginetest.LoadResponse(t, filepath.Join(responsesDir, row.file))
		if row.edit != nil {
			row.edit(resp)
		}
		regOpts = append(regOpts, enginetest.Respond(match, times, resp))
	case row.fault != nil:
		regOpts = append(regOpts, row.fault(match, times))
	}
	if row.tls {
		regOpts = append(regOpts, enginetest.WithTLS())
	}
	reg := enginetest.NewRegistry(t, regOpts...)
	ref := reg.Host + "/" + faultRepo + ":" + faultTag

	logs := &logBuffer{}
	var onRetry func()
	if row.down && times > 0 {
		onRetry = sync.OnceFunc(func() { reg.Up(t) }) // the registry comes back while the engine waits to retry
	}
	engOpts := []enginetest.EngineOption{enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Logger = slog.New(&retryHook{Handler: slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}), onRetry: onRetry})
	})}
	if !row.tls {
		engOpts = append(engOpts, enginetest.WithRegistry(reg)) // plain HTTP, trusted
	}
	e := enginetest.NewEngine(t, engOpts...)
	opts := &engine.PullOptions{MaxRetries: ptr(faultMaxRetries)}
	if row.creds {
		opts.Username, opts.Password = faultUser, faultCanary
	}

	var seedID string
	if row.seed {
		seed := enginetest.NewImage(t, enginetest.WithLabels(map[string]string{"seed": "yes"}))
		reg.PushImage(t, faultRepo+":"+faultTag, seed)
		if _, err := e.Pull(ctx, ref, policy.Always, opts); err != nil {
			t.Fatalf("pulling the seed image: %v", err)
		}
		seedID = enginetest.ID(t, seed)
	}
	reg.PushImage(t, faultRepo+":"+faultTag, img)
	reg.Requests.Reset()
	logs.Reset()
	armed.Store(true)
	if row.down {
		reg.Down()
	}

	pullCtx := ctx
	if row.deadline {
		var cancel context.CancelFunc
		// Long enough that a loaded -race run reaches the manifest GET
		// before it: the row counts that request.
		pullCtx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	res, err := e.Pull(pullCtx, ref, policy.Always, opts)
	armed.Store(false)

	requests := reg.Requests.Count(row.on)
	if row.on == enginetest.BlobGet {
		requests = 0
		for _, l := range reg.Requests.Log() {
			if l == "GET /v2/"+faultRepo+"/blobs/"+blob.String() {
				requests++
			}
		}
	}
	retries := logs.count(retryLogMessage)
	t.Logf("err: %v\nrequests %s: %d, engine retries: %d\nlog: %v\nengine log: %s", err, row.on, requests, retries, reg.Requests.Log(), logs.String())

	recovered := times > 0 && row.recoversOnce()
	wantRequests, wantRetries := row.perAttempt*(1+row.engineRetries()), row.engineRetries()
	if times > 0 {
		switch {
		case !recovered:
			wantRequests, wantRetries = row.perAttempt, 0
		case row.down: // nothing reached the registry before it came back
			wantRequests, wantRetries = 1, 1
		case row.perAttempt > 1: // containers/image's own retry mends it
			wantRequests, wantRetries = 2, 0
		default: // the engine's retry mends it
			wantRequests, wantRetries = 2, 1
		}
	}

	if recovered {
		if err != nil {
			t.Fatalf("a fault that happened once was not survived: %v", err)
		}
		if res.Outcome != engine.Pulled || res.Images[0].ID != enginetest.ID(t, img) {
			t.Errorf("pulled %s (%s), want %s", res.Images[0].ID, res.Outcome, enginetest.ID(t, img))
		}
	} else {
		checkFaultError(t, row, err)
	}
	if requests != wantRequests {
		t.Errorf("%s requests: %d, want %d", row.on, requests, wantRequests)
	}
	if retries != wantRetries {
		t.Errorf("engine retries: %d, want %d", retries, wantRetries)
	}

	// The store holds the image pulled, else what it held before: nothing
	// under the name, or the seed.
	local, lerr := e.Pull(ctx, ref, policy.Never, nil)
	switch {
	case recovered:
		if lerr != nil || local.Images[0].ID != enginetest.ID(t, img) {
			t.Errorf("after the pull, the name holds %v, %v; want the image pulled", local, lerr)
		}
	case row.seed:
		if lerr != nil || local.Images[0].ID != seedID {
			t.Errorf("after the failed pull, the name holds %v, %v; want the seed image %.12s", local, lerr, seedID)
		}
	default:
		if !errors.Is(lerr, storage.ErrImageUnknown) {
			t.Errorf("after the failed pull, the name holds %v, %v; want nothing", local, lerr)
		}
	}
	if !recovered {
		if _, lerr := e.Pull(ctx, enginetest.ID(t, img), policy.Never, nil); !errors.Is(lerr, storage.ErrImageUnknown) {
			t.Errorf("after the failed pull, the image is in the store under its ID: %v", lerr)
		}
	}
	assertNoCanary(t, err, logs.String())
}

// checkFaultError checks the error of a pull through a persistent fault.
func checkFaultError(t *testing.T, row faultRow, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("the pull succeeded")
	}
	if k := pullerrors.Classify(err); k != row.kind {
		t.Errorf("kind %s, want %s", k, row.kind)
	}
	if !errors.Is(err, row.kind.Sentinel()) {
		t.Errorf("errors.Is(err, %s sentinel) is false", row.kind)
	}
	if s := pullerrors.HTTPStatus(err); s != row.status {
		t.Errorf("HTTP status %d, want %d", s, row.status)
	}
	if r := pullerrors.Retryable(err); r != row.retryable {
		t.Errorf("Retryable %t, want %t", r, row.retryable)
	}
	var pe *pullerrors.PullError
	if !errors.As(err, &pe) {
		t.Fatalf("%T is not a *pullerrors.PullError", err)
	}
	if pe.MaybeNotFound != row.maybeNotFound {
		t.Errorf("MaybeNotFound %t, want %t", pe.MaybeNotFound, row.maybeNotFound)
	}
	if row.maybeNotFound && !strings.Contains(err.Error(), "does not exist or requires authentication") {
		t.Errorf("the message does not say the repository may not exist: %s", err)
	}
}

// A retry never downloads again what the failed attempt stored: the second
// layer's body is cut short twice (the first answer and containers/image's
// own Range resume), so the engine retries the copy, and the retry fetches
// the second layer only.
func TestFaultRetryFetchesOnlyWhatIsMissing(t *testing.T) {
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 64<<10), enginetest.WithRandomLayer(t, 64<<10))
	digests := layerDigests(t, img)
	reg := enginetest.NewRegistry(t, enginetest.TruncateBody(enginetest.Blob(digests[1]), 2))
	reg.PushImage(t, faultRepo+":"+faultTag, img)
	logs := &logBuffer{}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.MaxParallelDownloads = 1 // the first layer is stored before the second is asked for
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}))
	ctx := context.Background()
	res, err := e.Pull(ctx, reg.Host+"/"+faultRepo+":"+faultTag, policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images[0].ID != enginetest.ID(t, img) {
		t.Errorf("pulled %s, want %s", res.Images[0].ID, enginetest.ID(t, img))
	}
	if n := logs.count(retryLogMessage); n != 1 {
		t.Errorf("engine retries: %d, want 1", n)
	}
	gets := map[digest.Digest]int{}
	for _, l := range reg.Requests.Log() {
		if d, ok := strings.CutPrefix(l, "GET /v2/"+faultRepo+"/blobs/"); ok {
			gets[digest.Digest(d)]++
		}
	}
	if gets[digests[0]] != 1 {
		t.Errorf("the first layer was downloaded %d times, want once: %v", gets[digests[0]], reg.Requests.Log())
	}
	if gets[digests[1]] != 3 { // cut, resumed and cut again, then whole on the engine's retry
		t.Errorf("the second layer was asked for %d times, want 3: %v", gets[digests[1]], reg.Requests.Log())
	}
}

// A fault that happens once in a blob is mended by containers/image itself:
// it resumes the body with a Range request from where it stopped, so not
// one byte is sent twice.
func TestFaultTruncatedBlobResumedWithoutRetry(t *testing.T) {
	img := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 64<<10), enginetest.WithRandomLayer(t, 64<<10))
	reg := enginetest.NewRegistry(t, enginetest.TruncateBody(enginetest.Blob(layerDigests(t, img)[1]), 1))
	reg.PushImage(t, faultRepo+":"+faultTag, img)
	logs := &logBuffer{}
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}))
	if _, err := e.Pull(context.Background(), reg.Host+"/"+faultRepo+":"+faultTag, policy.Always, nil); err != nil {
		t.Fatal(err)
	}
	if n := logs.count(retryLogMessage); n != 0 {
		t.Errorf("engine retries: %d, want 0", n)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len(cfg))
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		want += size
	}
	if got := reg.Requests.BlobBytes(); got != want {
		t.Errorf("blob bytes sent: %d, want %d (each blob once)", got, want)
	}
}

// Trusting the self-signed registry's CA through PullOptions.CertDir makes
// the TLS row's pull work.
func TestFaultTLSTrustedThroughCertDir(t *testing.T) {
	reg := enginetest.NewRegistry(t, enginetest.WithTLS())
	reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
	e := enginetest.NewEngine(t)
	ref := reg.Host + "/" + faultRepo + ":" + faultTag
	ctx := context.Background()
	if _, err := e.Pull(ctx, ref, policy.Always, nil); pullerrors.Classify(err) != pullerrors.TLS {
		t.Fatalf("without trust: %v, want a TLS error", err)
	}
	res, err := e.Pull(ctx, ref, policy.Always, &engine.PullOptions{CertDir: reg.CertDir(t)})
	if err != nil {
		t.Fatalf("with the CA in CertDir: %v", err)
	}
	if res.Outcome != engine.Pulled {
		t.Errorf("outcome %s, want pulled", res.Outcome)
	}
}

// containers.conf retry and retry_delay apply when the pull sets neither;
// PullOptions win over them.
func TestFaultRetryConfig(t *testing.T) {
	resp := enginetest.LoadResponse(t, filepath.Join(responsesDir, "503.http"))
	tests := []struct {
		name     string
		conf     string
		opts     *engine.PullOptions
		attempts int
	}{
		{"containers.conf retry = 1", "[engine]\nretry = 1\nretry_delay = \"1ms\"\n", nil, 2},
		{"containers.conf retry = 0", "[engine]\nretry = 0\nretry_delay = \"1ms\"\n", nil, 1},
		{"PullOptions.MaxRetries over containers.conf", "[engine]\nretry = 0\nretry_delay = \"1ms\"\n", &engine.PullOptions{MaxRetries: ptr(3), RetryDelay: time.Millisecond}, 4},
		{"PullOptions.MaxRetries = 0", "[engine]\nretry = 3\nretry_delay = \"1ms\"\n", &engine.PullOptions{MaxRetries: ptr(0)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := enginetest.NewRegistry(t, enginetest.Respond(enginetest.Kind(enginetest.ManifestGet), -1, resp))
			reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
			e := enginetest.NewEngine(t, enginetest.WithRegistry(reg), enginetest.WithContainersConf(tc.conf))
			_, err := e.Pull(context.Background(), reg.Host+"/"+faultRepo+":"+faultTag, policy.Always, tc.opts)
			if pullerrors.Classify(err) != pullerrors.Unavailable {
				t.Fatalf("err %v, want unavailable", err)
			}
			if n := reg.Requests.Count(enginetest.ManifestGet); n != tc.attempts {
				t.Errorf("manifest GETs: %d, want %d", n, tc.attempts)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// layerDigests lists the digests of img's layers, in order.
func layerDigests(t *testing.T, img v1.Image) []digest.Digest {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var ds []digest.Digest
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, digest.Digest(h.String()))
	}
	return ds
}

// With several candidates, the most informative kind wins
// (pullerrors.Precedence), whatever the order of the registries: a NotFound
// on one and Unavailable on another is Unavailable, and an anonymous
// refusal beats NotFound.
func TestFaultCandidatesPrecedence(t *testing.T) {
	tests := []struct {
		name          string
		files         [2]string
		auth          [2]registryAuth
		kind          pullerrors.Kind
		maybeNotFound bool
	}{
		{"not found, then unavailable", [2]string{"distribution-manifest-unknown.http", "503.http"}, [2]registryAuth{}, pullerrors.Unavailable, false},
		{"unavailable, then not found", [2]string{"503.http", "distribution-manifest-unknown.http"}, [2]registryAuth{}, pullerrors.Unavailable, false},
		{"not found, then rate limited", [2]string{"ecr-name-unknown.http", "dockerhub-toomanyrequests.http"}, [2]registryAuth{}, pullerrors.RateLimited, false},
		{"not found, then anonymous refusal", [2]string{"distribution-name-unknown.http", "quay-missing-repo.http"}, [2]registryAuth{open, token}, pullerrors.Unauthorized, true},
		{"not found everywhere", [2]string{"distribution-manifest-unknown.http", "ecr-name-unknown.http"}, [2]registryAuth{}, pullerrors.NotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var engOpts []enginetest.EngineOption
			var kinds []pullerrors.Kind
			for i, file := range tc.files {
				resp := enginetest.LoadResponse(t, filepath.Join(responsesDir, file))
				if resp.Status == http.StatusTooManyRequests {
					rateLimitEdit(resp)
				}
				opts := []enginetest.RegistryOption{enginetest.Respond(enginetest.Kind(enginetest.ManifestGet), -1, resp)}
				if tc.auth[i] == token {
					opts = append(opts, enginetest.WithTokenAuth(faultUser, faultCanary))
				}
				reg := enginetest.NewRegistry(t, opts...)
				reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
				engOpts = append(engOpts, enginetest.WithRegistry(reg))
			}
			e := enginetest.NewEngine(t, engOpts...)
			_, err := e.Pull(context.Background(), faultRepo+":"+faultTag, policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
			var pe *pullerrors.PullError
			if !errors.As(err, &pe) {
				t.Fatalf("%T %v is not a *pullerrors.PullError", err, err)
			}
			for _, c := range pe.Candidates {
				kinds = append(kinds, pullerrors.Classify(c.Err))
			}
			if len(pe.Candidates) != 2 {
				t.Fatalf("%d candidates, want 2: %v", len(pe.Candidates), err)
			}
			if pe.Kind != tc.kind || pullerrors.Classify(err) != tc.kind {
				t.Errorf("kind %s (candidates %v), want %s: %v", pe.Kind, kinds, tc.kind, err)
			}
			if pe.MaybeNotFound != tc.maybeNotFound {
				t.Errorf("MaybeNotFound %t, want %t", pe.MaybeNotFound, tc.maybeNotFound)
			}
		})
	}
}

// The canary password, given through every credential path, never shows in
// the error (any rendering) or the engine's logs, whatever fails.
func TestFaultCredentialsNeverShow(t *testing.T) {
	type path struct {
		name  string
		auth  registryAuth
		setup func(t *testing.T, host string) ([]enginetest.EngineOption, *engine.PullOptions)
	}
	authFile := func(entry string) func(t *testing.T, host string) ([]enginetest.EngineOption, *engine.PullOptions) {
		return func(t *testing.T, host string) ([]enginetest.EngineOption, *engine.PullOptions) {
			return []enginetest.EngineOption{enginetest.WithAuthJSON(fmt.Sprintf(`{"auths":{%q:%s}}`, host, entry))}, &engine.PullOptions{}
		}
	}
	paths := []path{
		{"PullOptions password, Basic", basic, func(*testing.T, string) ([]enginetest.EngineOption, *engine.PullOptions) {
			return nil, &engine.PullOptions{Username: faultUser, Password: faultCanary}
		}},
		{"PullOptions password, token endpoint", token, func(*testing.T, string) ([]enginetest.EngineOption, *engine.PullOptions) {
			return nil, &engine.PullOptions{Username: faultUser, Password: faultCanary}
		}},
		{"PullOptions identity token", token, func(*testing.T, string) ([]enginetest.EngineOption, *engine.PullOptions) {
			return nil, &engine.PullOptions{IdentityToken: faultCanary}
		}},
		{"auth file, Basic", basic, authFile(fmt.Sprintf(`{"auth":%q}`, base64.StdEncoding.EncodeToString([]byte(faultUser+":"+faultCanary))))},
		{"auth file, token endpoint", token, authFile(fmt.Sprintf(`{"auth":%q}`, base64.StdEncoding.EncodeToString([]byte(faultUser+":"+faultCanary))))},
		{"auth file, identity token", token, authFile(fmt.Sprintf(`{"identitytoken":%q}`, faultCanary))},
		{"per-pull auth file", basic, func(t *testing.T, host string) ([]enginetest.EngineOption, *engine.PullOptions) {
			p := filepath.Join(t.TempDir(), "auth.json")
			auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(faultUser+":"+faultCanary)))
			if err := os.WriteFile(p, []byte(auth), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil, &engine.PullOptions{AuthFilePath: p}
		}},
	}
	failures := []struct {
		name  string
		fault func(enginetest.RequestMatcher, int) enginetest.RegistryOption
		on    enginetest.RequestKind
	}{
		{"rejected credentials", nil, ""},
		{"500 on the manifest, retried", func(m enginetest.RequestMatcher, n int) enginetest.RegistryOption {
			return enginetest.FailWith(m, n, http.StatusInternalServerError, "UNKNOWN", "internal error")
		}, enginetest.ManifestGet},
		{"token endpoint 401", func(m enginetest.RequestMatcher, n int) enginetest.RegistryOption {
			return enginetest.FailWith(m, n, http.StatusUnauthorized, "UNAUTHORIZED", "incorrect username or password")
		}, enginetest.Token},
		{"truncated blob", enginetest.TruncateBody, enginetest.BlobGet},
		{"wrong digest", enginetest.CorruptBody, enginetest.BlobGet},
		{"connection refused", nil, "down"},
	}
	for _, p := range paths {
		for _, f := range failures {
			if f.on == enginetest.Token && p.auth != token {
				continue
			}
			t.Run(p.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				password := faultCanary
				if f.name == "rejected credentials" {
					password = "another password"
				}
				var regOpts []enginetest.RegistryOption
				if p.auth == basic {
					regOpts = append(regOpts, enginetest.WithBasicAuth(faultUser, password))
				} else {
					regOpts = append(regOpts, enginetest.WithTokenAuth(faultUser, password))
				}
				if f.fault != nil {
					regOpts = append(regOpts, f.fault(enginetest.Kind(f.on), -1))
				}
				reg := enginetest.NewRegistry(t, regOpts...)
				reg.Push(t, faultRepo+":"+faultTag, enginetest.Files{"a": "1"})
				engOpts, opts := p.setup(t, reg.Host)
				logs := &logBuffer{}
				engOpts = append(engOpts, enginetest.WithRegistry(reg), enginetest.WithEngineOptions(func(o *engine.Options) {
					o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}))
				e := enginetest.NewEngine(t, engOpts...)
				opts.MaxRetries, opts.RetryDelay = ptr(1), time.Millisecond
				if f.on == "down" {
					reg.Down()
				}
				_, err := e.Pull(context.Background(), reg.Host+"/"+faultRepo+":"+faultTag, policy.Always, opts)
				if err == nil {
					t.Fatal("the pull succeeded")
				}
				assertNoCanary(t, err, logs.String())
			})
		}
	}
}

// assertNoCanary checks every rendering of err, and the logs.
func assertNoCanary(t *testing.T, err error, logs string) {
	t.Helper()
	renderings := map[string]string{"logs": logs}
	if err != nil {
		var slogged bytes.Buffer
		slog.New(slog.NewJSONHandler(&slogged, nil)).Error("pull failed", "err", err)
		renderings["Error()"] = err.Error()
		renderings["%v"] = fmt.Sprintf("%v", err)
		renderings["%+v"] = fmt.Sprintf("%+v", err)
		renderings["%#v"] = fmt.Sprintf("%#v", err)
		renderings["%q"] = fmt.Sprintf("%q", err)
		renderings["slog of the error"] = slogged.String()
	}
	for how, s := range renderings {
		if strings.Contains(s, faultCanary) {
			t.Errorf("the password shows in %s: %s", how, s)
		}
	}
	assertNotInChain(t, err, faultCanary)
}

// assertNotInChain fails when secret shows in the text of any error of
// err's tree: errors.Unwrap repeatedly, and every member of a join (what a
// caller walking the chain would print).
func assertNotInChain(t *testing.T, err error, secret string) {
	t.Helper()
	for depth, e := range errorTree(err) {
		for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if strings.Contains(s, secret) {
				t.Errorf("the secret shows in a wrapped %T (node %d of the chain): %s", e, depth, s)
				break
			}
		}
	}
}

// errorTree lists err and every error it wraps, depth first.
func errorTree(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, errorTree(x.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			out = append(out, errorTree(e)...)
		}
	}
	return out
}

// logBuffer is a buffer the engine's slog handler writes to, safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// count is the number of JSON log records with message msg.
func (b *logBuffer) count(msg string) int {
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			n++
		}
	}
	return n
}

// retryHook calls onRetry when the engine logs a retry, before it waits.
type retryHook struct {
	slog.Handler
	onRetry func()
}

func (h *retryHook) Handle(ctx context.Context, r slog.Record) error {
	if h.onRetry != nil && r.Message == retryLogMessage {
		h.onRetry()
	}
	return h.Handler.Handle(ctx, r)
}

func (h *retryHook) WithAttrs(as []slog.Attr) slog.Handler {
	return &retryHook{Handler: h.Handler.WithAttrs(as), onRetry: h.onRetry}
}

func (h *retryHook) WithGroup(name string) slog.Handler {
	return &retryHook{Handler: h.Handler.WithGroup(name), onRetry: h.onRetry}
}

var updateREADME = flag.Bool("update-readme", false, "rewrite the fault table in README.md from faultRows")

const (
	readmeTableStart = "<!-- fault table: generated from engine/faults_test.go (go test ./engine -run TestFaultTableInREADME -update-readme) -->"
	readmeTableEnd   = "<!-- end of fault table -->"
)

// faultTable renders faultRows as the README's markdown table.
func faultTable() string {
	var b strings.Builder
	b.WriteString("| fault | the registry answers | kind | status | retried by | a single fault | MaybeNotFound |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range faultRows {
		once := "fails"
		if r.recoversOnce() {
			once = "survived"
		}
		if !r.runsOnce() {
			once = "—"
		}
		maybe := ""
		if r.maybeNotFound {
			maybe = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %d | %s | %s | %s |\n", r.name, r.answer, r.kind, r.status, r.retriedBy(), once, maybe)
	}
	return b.String()
}

// The README's fault table is faultRows: what the tests check is what the
// documentation promises.
func TestFaultTableInREADME(t *testing.T) {
	path := filepath.Join("..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, readmeTableStart)
	end := strings.Index(readme, readmeTableEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md has no fault table between %q and %q", readmeTableStart, readmeTableEnd)
	}
	start += len(readmeTableStart) + 1
	want := faultTable()
	if readme[start:end] == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's fault table differs from faultRows; run go test ./engine -run TestFaultTableInREADME -update-readme\nwant:\n%s", want)
}
