package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/httpapi"
	"github.com/pullengine/pullengine/metrics"
	"github.com/spf13/pflag"
)

const serveUsage = `Usage: pullengine serve [--socket PATH | --listen ADDR | --listen-fd N] [flags]

Serves Podman's libpod pull endpoint (POST /libpod/images/pull, _ping,
version) over the store, for podman --remote, Podman's Go bindings, curl:

  curl --unix-socket SOCKET -X POST 'http://d/v5.0.0/libpod/images/pull?reference=alpine'
  podman --remote --url unix://SOCKET pull alpine

The socket is created with mode 0600, and appears at its path only once
it accepts connections: whoever can connect can pull into the store. With
--listen (TCP, no authentication) requests from web browsers and Host
headers that are not an address, localhost or --allow-host are refused.
Started by systemd socket activation (LISTEN_FDS), it serves on the
sockets handed over and creates none; --listen-fd N takes a listening
socket a parent left open at fd N. With NOTIFY_SOCKET set it tells
readiness (sd_notify READY=1). SIGINT or SIGTERM stops the server, and so
does --time SECONDS without requests: pulls in flight get
--shutdown-timeout to finish, then are canceled.

Local transports (oci:, oci-archive:, dir:, docker-archive:) are refused
unless their path, symlinks and ".." resolved, lies under an --allow-path
directory; containers-storage: unless it names an --allow-store store (or
none: this server's own). docker-daemon: is never served.

Flags:
`

type serveFlags struct {
	storeFlags
	socket, listen     string
	listenFD           int
	metricsListen      string
	idleSeconds        int
	shutdownTimeout    time.Duration
	debug              bool
	allowPaths         stringList
	allowStores        stringList
	allowHosts         stringList
	maxPulls, maxRetry int
	maxTags            int

	// activated: systemd handed this process its sockets (LISTEN_FDS).
	activated bool
	// tcp: a listener is TCP, so the Host check applies (handlerOptions).
	tcp bool
	fs  *pflag.FlagSet
}

// newServeFlagSet declares serve's flags.
func newServeFlagSet(f *serveFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&f.socket, "socket", "", "unix socket to listen on (default: /run/pullengine/pullengine.sock for root, else $XDG_RUNTIME_DIR/pullengine/pullengine.sock)")
	fs.StringVar(&f.listen, "listen", "", "TCP address to listen on instead of a socket, e.g. 127.0.0.1:8080 (no authentication!)")
	fs.IntVar(&f.listenFD, "listen-fd", 0, "serve on the listening socket inherited at this file descriptor, instead of a socket of its own")
	fs.IntVarP(&f.idleSeconds, "time", "t", 0, "exit after this many seconds without requests (0: never)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "TCP address to serve Prometheus metrics on, at /metrics, e.g. 127.0.0.1:9180 (default: no metrics)")
	f.storeFlags.register(fs)
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long pulls in flight may finish after SIGINT/SIGTERM or --time before they are canceled")
	fs.BoolVar(&f.debug, "debug", false, "log the engine's steps")
	fs.Var(&f.allowPaths, "allow-path", "directory whose oci:, oci-archive:, dir: and docker-archive: images clients may pull (repeatable; default none)")
	fs.Var(&f.allowStores, "allow-store", "graph root of another containers-storage store clients may pull from (repeatable; default none)")
	fs.Var(&f.allowHosts, "allow-host", "with a TCP listener, a host name clients may use to reach the server, besides addresses and localhost (repeatable)")
	fs.IntVar(&f.maxPulls, "max-pulls", defaultMaxPulls, "pulls served at once; more are answered 429 with Retry-After (0: no limit)")
	fs.IntVar(&f.maxRetry, "max-retries", httpapi.DefaultMaxRetries, "the largest retry parameter a request may give")
	fs.IntVar(&f.maxTags, "max-tags", 0, "most tags an allTags pull accepts (0: the engine's default, 10000; -1: refuse allTags)")
	return fs
}

// parseServeFlags parses serve's arguments. -h/--help gives
// pflag.ErrHelp; an argument error is errUsage-wrapped with the reason.
func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	f.fs = newServeFlagSet(f)
	if err := f.fs.Parse(singleDashLongFlags(f.fs, args, "serve", stderr)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if f.fs.NArg() != 0 {
		return nil, fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, f.fs.Args())
	}
	f.activated = socketActivated()
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return f, nil
}

// printServeUsage prints serve's help.
func printServeUsage(w io.Writer) {
	fs := newServeFlagSet(&serveFlags{})
	fmt.Fprint(w, serveUsage)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// check refuses flags that contradict each other or the environment.
func (f *serveFlags) check() error {
	var where []string
	for _, c := range []struct {
		name string
		set  bool
	}{{"--socket", f.socket != ""}, {"--listen", f.listen != ""}, {"--listen-fd", f.fs.Changed("listen-fd")}} {
		if c.set {
			where = append(where, c.name)
		}
	}
	switch {
	case f.activated && len(where) > 0:
		return fmt.Errorf("systemd handed over the sockets to serve on (LISTEN_FDS): %s cannot be given as well", strings.Join(where, " and "))
	case len(where) > 1:
		return fmt.Errorf("%s exclude each other: serve on one", strings.Join(where, " and "))
	case f.listenFD < 0:
		return fmt.Errorf("--listen-fd %d: want a file descriptor number", f.listenFD)
	case f.idleSeconds < 0:
		return fmt.Errorf("--time %d: want a number of seconds, 0 for never", f.idleSeconds)
	}
	return nil
}

// serveUsageError prints an argument error and returns exit code 2.
func serveUsageError(stderr io.Writer, err error) int {
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(stderr, "pullengine serve: %s\nSee 'pullengine serve --help'.\n", msg)
	return 2
}

// serve runs the HTTP API until ctx ends (the signal) or --time passes
// without requests, then shuts down: new connections are refused, pulls in
// flight get shutdownTimeout to finish and are then canceled. It writes
// "serving ... on URL" to stderr once it accepts connections, and tells
// systemd READY=1 when NOTIFY_SOCKET is set.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseServeFlags(args, stderr)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		printServeUsage(stdout)
		return 0
	case err != nil:
		return serveUsageError(stderr, err)
	}
	level := slog.LevelInfo
	if f.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(&clipHandler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})})
	fail := func(err error) int {
		fmt.Fprintln(stderr, "pullengine serve:", err)
		return 1
	}

	// Sockets handed over are taken first, and a path of our own is
	// checked, before the store is opened.
	ls, socketPath, err := f.inheritedListeners()
	if err != nil {
		return fail(err)
	}
	defer func() { closeAll(ls) }()

	var collector *metrics.Collector
	opts := f.storeFlags.engineOptions()
	opts.AuthFilePath, opts.Logger = f.authfile, engineLogger(logger, f.debug)
	opts.AllowedStores = f.allowStores
	opts.Limits = serveLimits
	if f.metricsListen != "" {
		collector = metrics.New()
		opts.Observer = collector
	}
	e, err := engine.New(opts)
	if err != nil {
		return fail(err)
	}
	defer e.Close()

	if ls == nil {
		l, err := f.ownListener(socketPath)
		if err != nil {
			return fail(err)
		}
		ls = []net.Listener{l}
	}
	for _, l := range ls {
		if _, ok := l.Addr().(*net.TCPAddr); ok {
			f.tcp = true
			fmt.Fprintln(stderr, "pullengine serve:", listenWarning(l.Addr(), len(f.allowPaths) > 0 || len(f.allowStores) > 0))
		}
	}
	var metricsSrv *http.Server
	if collector != nil {
		if metricsSrv, err = startMetrics(f.metricsListen, collector, stderr); err != nil {
			return fail(err)
		}
		defer metricsSrv.Close()
	}
	return f.run(ctx, e, ls, logger, stderr)
}

// inheritedListeners returns the sockets systemd or --listen-fd handed
// over; without any, it prepares the path of the unix socket to create
// (empty with --listen).
func (f *serveFlags) inheritedListeners() (ls []net.Listener, socketPath string, err error) {
	switch {
	case f.activated:
		ls, err = activatedListeners()
		return ls, "", err
	case f.fs.Changed("listen-fd"):
		l, err := fdListener(f.listenFD)
		if err != nil {
			return nil, "", err
		}
		return []net.Listener{l}, "", nil
	case f.listen != "":
		return nil, "", nil
	}
	socketPath = f.socket
	if socketPath == "" {
		if socketPath, err = defaultSocket(); err != nil {
			return nil, "", err
		}
	}
	return nil, socketPath, prepareSocketPath(socketPath)
}

// ownListener opens --listen, or the unix socket at socketPath.
func (f *serveFlags) ownListener(socketPath string) (net.Listener, error) {
	if f.listen != "" {
		return net.Listen("tcp", f.listen)
	}
	return listenUnix(socketPath)
}

// run serves on ls until ctx ends or the idle time passes, then shuts down.
func (f *serveFlags) run(ctx context.Context, e *engine.Engine, ls []net.Listener, logger *slog.Logger, stderr io.Writer) int {
	var handler http.Handler = httpapi.NewHandler(e, new(f.handlerOptions(logger)))
	if f.tcp {
		handler = unixHostExempt(handler)
	}
	var idle <-chan struct{}
	if f.idleSeconds > 0 {
		t := newIdleTimer(time.Duration(f.idleSeconds) * time.Second)
		defer t.stop()
		handler, idle = t.wrap(handler), t.expired
	}
	// Canceling base cancels every request's context, so the pulls in
	// flight, once the shutdown grace period is over.
	base, cancelPulls := context.WithCancel(context.Background())
	defer cancelPulls()
	srv := &http.Server{
		Handler:           handler,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       markUnixConn,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute, // idle keep-alive connections are closed
		ErrorLog:          log.New(stderr, "pullengine serve: http: ", 0),
	}
	served := make(chan error, len(ls))
	urls := make([]string, len(ls))
	for i, l := range ls {
		urls[i] = listenerURL(l)
		go func() { served <- srv.Serve(l) }()
	}
	fmt.Fprintf(stderr, "pullengine serve: serving libpod's pull API on %s\n", strings.Join(urls, ", "))
	notify(stderr, daemon.SdNotifyReady)

	select {
	case err := <-served:
		fmt.Fprintln(stderr, "pullengine serve:", err)
		_ = srv.Close()
		return 1
	case <-ctx.Done():
	case <-idle:
		fmt.Fprintf(stderr, "pullengine serve: no request for %ds (--time); exiting\n", f.idleSeconds)
	}
	notify(stderr, daemon.SdNotifyStopping)
	shutdown(srv, cancelPulls, f.shutdownTimeout, stderr)
	for range ls {
		<-served
	}
	fmt.Fprintln(stderr, "pullengine serve: stopped")
	return 0
}

// unixConnKey marks, in a request's context, a request that came over a
// unix socket.
type unixConnKey struct{}

// markUnixConn is the http.Server's ConnContext: it marks unix connections.
func markUnixConn(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*net.UnixConn); ok {
		return context.WithValue(ctx, unixConnKey{}, true)
	}
	return ctx
}

// unixHostExempt exempts requests over a unix socket from the Host check
// that TCP listeners need (handed over by systemd beside a TCP one):
// the check stops DNS rebinding, which cannot reach a unix socket, and
// Podman's clients send "Host: d" there. Their Host is read as localhost.
func unixHostExempt(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unix, _ := r.Context().Value(unixConnKey{}).(bool); unix {
			r = r.WithContext(r.Context())
			r.Host = "localhost"
		}
		h.ServeHTTP(w, r)
	})
}

// shutdown stops srv: pulls in flight get grace to finish, then are
// canceled.
func shutdown(srv *http.Server, cancelPulls context.CancelFunc, grace time.Duration, stderr io.Writer) {
	fmt.Fprintf(stderr, "pullengine serve: shutting down; pulls in flight have %s to finish\n", grace)
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	if err := srv.Shutdown(graceCtx); err == nil {
		return
	}
	fmt.Fprintln(stderr, "pullengine serve: canceling the pulls in flight")
	cancelPulls()
	// A canceled pull stops promptly; give its handler a moment to
	// answer, then drop what is left.
	last, cancelLast := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLast()
	if err := srv.Shutdown(last); err != nil {
		_ = srv.Close()
	}
}

// notify tells systemd (or whoever set NOTIFY_SOCKET) the state; without
// NOTIFY_SOCKET it does nothing.
func notify(stderr io.Writer, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		fmt.Fprintf(stderr, "pullengine serve: WARNING: telling NOTIFY_SOCKET %s: %v\n", state, err)
	}
}

// engineLogger is the engine's logger: the server's with --debug, else
// warnings and errors only.
func engineLogger(l *slog.Logger, debug bool) *slog.Logger {
	if debug {
		return l
	}
	return slog.New(&minLevel{Handler: l.Handler(), min: slog.LevelWarn})
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m *minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return &minLevel{Handler: m.Handler.WithAttrs(a), min: m.min}
}

func (m *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{Handler: m.Handler.WithGroup(name), min: m.min}
}
