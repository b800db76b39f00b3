package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/httpapi"
)

const serveUsage = `usage: pullengine serve [--socket PATH | --listen ADDR] [flags]

Serves Podman's libpod pull endpoint (POST /libpod/images/pull, _ping,
version) over the store, for podman --remote, Podman's Go bindings, curl:

  curl --unix-socket SOCKET -X POST 'http://d/v5.0.0/libpod/images/pull?reference=alpine'
  podman --remote --url unix://SOCKET pull alpine

The socket is created with mode 0600: whoever can connect can pull into the
store. With --listen (TCP, no authentication) requests from web browsers
and Host headers that are not an address, localhost or --allow-host are
refused. SIGINT or SIGTERM stops the server: pulls in flight get
--shutdown-timeout to finish, then are canceled.

Local transports (oci:, oci-archive:, dir:, docker-archive:) are refused
unless their path, symlinks and ".." resolved, lies under an --allow-path
directory; containers-storage: unless it names an --allow-store store (or
none: this server's own). docker-daemon: is never served.

flags:
`

type serveFlags struct {
	storeFlags
	socket, listen      string
	authfile, sigPolicy string
	shutdownTimeout     time.Duration
	debug               bool
	allowPaths          stringList
	allowStores         stringList
	allowHosts          stringList
	maxPulls, maxRetry  int
	maxTags             int
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); fs.PrintDefaults() }
	fs.StringVar(&f.socket, "socket", "", "unix socket to listen on (default: /run/pullengine/pullengine.sock for root, else $XDG_RUNTIME_DIR/pullengine/pullengine.sock)")
	fs.StringVar(&f.listen, "listen", "", "TCP address to listen on instead of a socket, e.g. 127.0.0.1:8080 (no authentication!)")
	f.storeFlags.register(fs)
	fs.StringVar(&f.authfile, "authfile", "", "auth file (containers-auth.json) used when a request brings no per-registry credentials")
	fs.StringVar(&f.sigPolicy, "signature-policy", "", "policy.json to use instead of the host's")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long pulls in flight may finish after SIGINT/SIGTERM before they are canceled")
	fs.BoolVar(&f.debug, "debug", false, "log the engine's steps")
	fs.Var(&f.allowPaths, "allow-path", "directory whose oci:, oci-archive:, dir: and docker-archive: images clients may pull (repeatable; default none)")
	fs.Var(&f.allowStores, "allow-store", "graph root of another containers-storage store clients may pull from (repeatable; default none)")
	fs.Var(&f.allowHosts, "allow-host", "with --listen, a host name clients may use to reach the server, besides addresses and localhost (repeatable)")
	fs.IntVar(&f.maxPulls, "max-pulls", defaultMaxPulls, "pulls served at once; more are answered 429 with Retry-After (0: no limit)")
	fs.IntVar(&f.maxRetry, "max-retries", httpapi.DefaultMaxRetries, "the largest retry parameter a request may give")
	fs.IntVar(&f.maxTags, "max-tags", 0, "most tags an allTags pull accepts (0: the engine's default, 10000; -1: refuse allTags)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, errors.New("serve takes no arguments")
	}
	if f.socket != "" && f.listen != "" {
		fmt.Fprintln(stderr, "pullengine serve: --socket and --listen exclude each other")
		return nil, errors.New("--socket and --listen")
	}
	return &f, nil
}

// serve runs the HTTP API until ctx ends (the signal), then shuts down:
// new connections are refused, pulls in flight get shutdownTimeout to
// finish and are then canceled. It writes "serving ... on URL" to stderr
// once it accepts connections.
func serve(ctx context.Context, args []string, _, stderr io.Writer) int {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return 2
	}
	level := slog.LevelInfo
	if f.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(&clipHandler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})})

	l, url, err := f.listener()
	if err != nil {
		fmt.Fprintln(stderr, "pullengine serve:", err)
		return 1
	}
	defer l.Close()

	opts := f.storeFlags.engineOptions()
	opts.AuthFilePath, opts.SignaturePolicyPath, opts.Logger = f.authfile, f.sigPolicy, engineLogger(logger, f.debug)
	opts.AllowedStores = f.allowStores
	opts.Limits = serveLimits
	e, err := engine.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, "pullengine serve:", err)
		return 1
	}
	defer e.Close()

	// Canceling base cancels every request's context, so the pulls in
	// flight, once the shutdown grace period is over.
	base, cancelPulls := context.WithCancel(context.Background())
	defer cancelPulls()
	srv := &http.Server{
		Handler:           httpapi.NewHandler(e, f.handlerOptions(logger)),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute, // idle keep-alive connections are closed
		ErrorLog:          log.New(stderr, "pullengine serve: http: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if f.listen != "" {
		fmt.Fprintln(stderr, "pullengine serve:", listenWarning(l.Addr(), len(f.allowPaths) > 0 || len(f.allowStores) > 0))
	}
	fmt.Fprintf(stderr, "pullengine serve: serving libpod's pull API on %s\n", url)

	select {
	case err := <-served:
		fmt.Fprintln(stderr, "pullengine serve:", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintf(stderr, "pullengine serve: shutting down; pulls in flight have %s to finish\n", f.shutdownTimeout)
	grace, cancelGrace := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancelGrace()
	if err := srv.Shutdown(grace); err != nil {
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
	<-served
	fmt.Fprintln(stderr, "pullengine serve: stopped")
	return 0
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

// listener opens the TCP address or the unix socket, and returns it with
// the URL clients use.
func (f *serveFlags) listener() (net.Listener, string, error) {
	if f.listen != "" {
		l, err := net.Listen("tcp", f.listen)
		if err != nil {
			return nil, "", err
		}
		return l, "tcp://" + l.Addr().String(), nil
	}
	path := f.socket
	if path == "" {
		var err error
		if path, err = defaultSocket(); err != nil {
			return nil, "", err
		}
	}
	l, err := listenUnix(path)
	if err != nil {
		return nil, "", err
	}
	return l, "unix://" + path, nil
}

// defaultSocket is where the server listens without --socket, next to
// where Podman puts its own.
func defaultSocket() (string, error) {
	if os.Geteuid() == 0 {
		return "/run/pullengine/pullengine.sock", nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "", errors.New("XDG_RUNTIME_DIR is not set: give the socket's path with --socket")
	}
	return filepath.Join(dir, "pullengine", "pullengine.sock"), nil
}

// listenUnix listens on a unix socket at path, created with mode 0600 (no
// moment when it is open to others), in a directory created 0700 if
// missing. A stale socket left by a server that died is replaced; a live
// one, or any other file, is an error.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another server is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket: %w", err)
		}
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
