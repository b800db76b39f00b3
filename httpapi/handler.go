package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/progress"
)

// DefaultAPIVersion is the libpod API version the handler announces
// (the Libpod-API-Version header of every answer, and /version): the pull
// endpoint implements Podman 6's pull API (error statuses, pullProgress).
// Podman's clients refuse servers older than 4.0.0.
const DefaultAPIVersion = "6.0.0"

// minAPIVersion is the oldest libpod API version whose clients this
// handler serves, announced by /version.
const minAPIVersion = "4.0.0"

// Options configure [NewHandler]. The zero value serves with the
// defaults: no log, DefaultAPIVersion, no streaming delay, the engine's tag
// limit, DefaultMaxRetries, no cap on pulls at once, no Host check, and
// registry names and image IDs only.
type Options struct {
	// Logger receives the handler's log: one line per request that fails
	// validation (debug) and per pull (info: reference, mode, status,
	// error kind, duration). Credentials are never logged. Nil, the
	// default, discards.
	Logger *slog.Logger

	// APIVersion is the libpod API version announced in the
	// Libpod-API-Version header and by /version. Empty: DefaultAPIVersion.
	// It must be 4.0.0 or later for Podman's clients to connect.
	APIVersion string

	// StreamingDelay bounds how long a streaming pull may wait for the
	// registry before the handler commits to 200 and starts streaming, as
	// Podman's 5-second timer does, for clients that give up when no
	// header arrives. Zero (or less), the default, waits as long as it
	// takes: failures before the first blob always carry their exact
	// status.
	StreamingDelay time.Duration

	// MaxTags bounds the pulls of every tag of a repository (allTags=true):
	// n > 0 refuses a repository with more than n tags (the engine's
	// PullOptions.MaxTags); n < 0 refuses allTags altogether (400). Zero,
	// the default, leaves the engine's limit (engine.DefaultMaxTags).
	// Either way the engine bounds the listing's pages and bytes.
	MaxTags int

	// MaxRetries is the largest retry parameter a pull request may give; a
	// request asking for more is answered 400. Zero: DefaultMaxRetries.
	// Negative: no retries (a request asking for any is answered 400).
	MaxRetries int

	// MaxConcurrentPulls caps the pulls the handler runs at once; a pull
	// request past the cap is answered 429 Too Many Requests with a
	// Retry-After header, before any pull starts. Zero or less, the
	// default: no cap. (Pulls of one image still share one transfer in the
	// engine; the cap counts requests.)
	MaxConcurrentPulls int

	// HostCheck makes the handler refuse (403) every request whose Host
	// header is not an IP address, "localhost", or one of AllowedHosts: a
	// web page that rebinds its own DNS name to this server's address (DNS
	// rebinding) sends its own name as Host. Use it when serving over TCP;
	// a unix socket needs none (clients send any Host there, Podman's
	// bindings send "d"). Off by default.
	HostCheck bool
	// AllowedHosts are the host names HostCheck accepts besides IP
	// addresses and "localhost" (case and a final dot do not matter).
	// Without HostCheck they are not used.
	AllowedHosts []string

	// AllowedPaths lets pull requests read oci:, oci-archive:, dir: and
	// docker-archive: references whose path, after resolving symlinks and
	// "..", lies under one of these directories; a path elsewhere is
	// answered 403. None by default: only registry names and image IDs
	// are accepted (400 for other transports), as libpod does. Paths must
	// be absolute; empty strings are ignored.
	AllowedPaths []string

	// MaxLocalSourceBytes bounds what the handler copies to read one local
	// source privately (a decompressed archive, the small files of a
	// layout; large layout files are hard-linked when the store's file
	// system allows): a source past it is refused (400, unsupported).
	// Zero: DefaultMaxLocalSourceBytes; negative: no bound.
	MaxLocalSourceBytes int64
}

// config is Options resolved: defaults applied, host names normalized,
// directories resolved.
type config struct {
	log            *slog.Logger
	apiVersion     string
	streamingDelay time.Duration
	maxTags        int // Options.MaxTags

	// Limits and access (guard.go, source.go).
	maxRetries    int
	maxPulls      chan struct{} // nil: no cap
	hostCheck     bool
	allowedHosts  map[string]bool
	allowedPaths  []string
	stores        storeAccess // the Engine's Options.AllowedStores
	maxLocalBytes int64       // Options.MaxLocalSourceBytes; 0: no bound

	// onEvent, for tests, is called by the pull handler after it has
	// handled each progress event.
	onEvent func(progress.Event)
	// onLocalOpen, for tests, is called once a local source is opened
	// and copied, before the pull starts.
	onLocalOpen func()
}

// newConfig resolves o.
func newConfig(o Options) config {
	c := config{
		log:            o.Logger,
		apiVersion:     o.APIVersion,
		streamingDelay: o.StreamingDelay,
		maxTags:        o.MaxTags,
		maxRetries:     o.MaxRetries,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.apiVersion == "" {
		c.apiVersion = DefaultAPIVersion
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if o.MaxConcurrentPulls > 0 {
		c.maxPulls = make(chan struct{}, o.MaxConcurrentPulls)
	}
	if o.HostCheck {
		c.hostCheck = true
		c.allowedHosts = allowedHosts(o.AllowedHosts)
	}
	c.allowedPaths = resolveDirs(o.AllowedPaths)
	switch {
	case o.MaxLocalSourceBytes == 0:
		c.maxLocalBytes = DefaultMaxLocalSourceBytes
	case o.MaxLocalSourceBytes > 0:
		c.maxLocalBytes = o.MaxLocalSourceBytes
	}
	return c
}

// handler is the http.Handler NewHandler returns.
type handler struct {
	e   *engine.Engine
	cfg config
}

// NewHandler returns an http.Handler serving libpod's pull endpoint (POST
// /libpod/images/pull, versioned or not) over e, with the _ping and
// version endpoints Podman's clients call, and 404 with libpod's error
// body for every other path. See the package documentation for the
// parameters and the status codes.
//
// Pulls run under the request's context: a client that disconnects
// cancels its pull, and so does the cancellation of the server's base
// context. The handler does not close e.
//
// A nil opts means the defaults (the zero Options). NewHandler does not
// keep opts' slices. The other stores a containers-storage: reference may
// name are e's (engine.Options.AllowedStores).
func NewHandler(e *engine.Engine, opts *Options) http.Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := newConfig(o)
	if e != nil {
		c.stores = storeAccess{any: len(e.AllowedStores()) > 0, allows: e.AllowsStore}
	}
	return &handler{e: e, cfg: c}
}

// storeAccess is the Engine's answer to which other stores a
// containers-storage: reference may name (engine.Options.AllowedStores):
// the Engine is the one source of that list.
type storeAccess struct {
	any    bool                   // some store other than the Engine's is allowed
	allows func(root string) bool // Engine.AllowsStore
}

// versionPrefix matches libpod's "/v{version}" path prefix.
var versionPrefix = regexp.MustCompile(`^/v[0-9][0-9A-Za-z.-]*(/|$)`)

// endpoint is one route: its methods and handler.
type endpoint struct {
	methods []string
	serve   func(h *handler, w http.ResponseWriter, r *http.Request)
}

var routes = map[string]endpoint{
	"/_ping":              {[]string{http.MethodGet, http.MethodHead}, (*handler).ping},
	"/libpod/_ping":       {[]string{http.MethodGet, http.MethodHead}, (*handler).ping},
	"/version":            {[]string{http.MethodGet}, (*handler).version},
	"/libpod/version":     {[]string{http.MethodGet}, (*handler).version},
	"/libpod/images/pull": {[]string{http.MethodPost}, (*handler).pull},
}

// ServeHTTP routes the request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Libpod-API-Version", h.cfg.apiVersion)
	w.Header().Set("Server", "pullengine ("+runtime.GOOS+")")
	if err := h.checkOrigin(r); err != nil {
		h.cfg.log.WarnContext(r.Context(), "request refused", "status", http.StatusForbidden, "err", message(err))
		writeError(w, http.StatusForbidden, err)
		return
	}

	path := r.URL.Path
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		path = "/" + path[loc[1]:]
	}
	ep, ok := routes[strings.TrimSuffix(path, "/")]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("%s %s: no such endpoint: this server answers only libpod's images/pull, _ping and version", r.Method, r.URL.Path))
		return
	}
	for _, m := range ep.methods {
		if r.Method == m {
			ep.serve(h, w, r)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(ep.methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(ep.methods, ", ")))
}

// ping answers libpod's _ping: 200 "OK" and the API version header Podman's
// clients check.
func (h *handler) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("OSType", runtime.GOOS)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("OK"))
	}
}

// componentVersion is the answer of /version: Docker's types.Version with
// libpod's components, as Podman writes it; only what is true of this
// server is filled in.
type componentVersion struct {
	Platform struct {
		Name string
	}
	Components    []component
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string `json:",omitempty"`
	GoVersion     string
	Os            string
	Arch          string
	BuildTime     string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
}

type component struct {
	Name    string
	Version string
	Details map[string]string `json:",omitempty"`
}

// version answers /version: this server is pullengine, serving the libpod
// API version it announces.
func (h *handler) version(w http.ResponseWriter, _ *http.Request) {
	v, commit, built := buildInfo()
	cv := componentVersion{
		Components: []component{{
			Name:    "pullengine",
			Version: v,
			Details: map[string]string{
				"APIVersion":    h.cfg.apiVersion,
				"MinAPIVersion": minAPIVersion,
				"Os":            runtime.GOOS,
				"Arch":          runtime.GOARCH,
				"GoVersion":     runtime.Version(),
			},
		}},
		Version:       v,
		APIVersion:    h.cfg.apiVersion,
		MinAPIVersion: minAPIVersion,
		GitCommit:     commit,
		BuildTime:     built,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
	}
	cv.Platform.Name = runtime.GOOS + "/" + runtime.GOARCH + "/pullengine"
	writeJSON(w, http.StatusOK, cv)
}

// buildInfo is the version of the pullengine module in this binary
// ("devel" when unknown), and, when pullengine's own command is the
// binary, the VCS commit and time it was built from.
func buildInfo() (version, commit, built string) {
	const path = "github.com/pullengine/pullengine"
	version = "devel"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version, "", ""
	}
	if info.Main.Path == path && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path != path {
			continue
		}
		if d.Replace != nil && d.Replace.Version != "" {
			version = d.Replace.Version
		} else if d.Version != "" && d.Version != "(devel)" {
			version = d.Version
		}
	}
	if info.Main.Path != path {
		return version, "", "" // the VCS settings are the embedding program's
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			built = s.Value
		}
	}
	return version, commit, built
}
