package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/httpapi"
	"github.com/pullengine/pullengine/internal/safetext"
)

// defaultMaxPulls is serve's --max-pulls default: generous for a build
// host, a bound for a hostile client.
const defaultMaxPulls = 32

// serveLimits are the engine Limits serve runs with: a client's image (from
// a registry or an allowed local source) of more layers, or unpacking to
// more bytes, is refused before it fills the store's disk. Generous for
// real images; a library user sets its own (engine.Options.Limits).
var serveLimits = engine.Limits{MaxLayers: 500, MaxLayerSize: 32 << 30, MaxImageSize: 64 << 30}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

// Type names the value in the usage.
func (l *stringList) Type() string { return "string" }

// Set appends one value.
func (l *stringList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, v)
	return nil
}

// handlerOptions are the httpapi options the flags describe.
func (f *serveFlags) handlerOptions(logger *slog.Logger) httpapi.Options {
	maxRetries := f.maxRetry
	if maxRetries <= 0 {
		maxRetries = -1 // --max-retries 0 (or less): no retries, not the default
	}
	return httpapi.Options{
		Logger:             logger,
		MaxConcurrentPulls: f.maxPulls,
		MaxRetries:         maxRetries,
		MaxTags:            f.maxTags,
		AllowedPaths:       f.allowPaths,
		HostCheck:          f.listen != "" || f.tcp,
		AllowedHosts:       f.allowHosts,
	}
}

// listenWarning is the warning for a TCP listener: anyone who reaches it
// can pull (and read the allowed local images), so the wider the address,
// the stronger the words.
func listenWarning(addr net.Addr, localSources bool) string {
	what := "pull into the store"
	if localSources {
		what += " and read the images under --allow-path/--allow-store"
	}
	var ip net.IP
	if tcp, ok := addr.(*net.TCPAddr); ok {
		ip = tcp.IP
	}
	switch {
	case ip != nil && ip.IsLoopback():
		return fmt.Sprintf("WARNING: listening on TCP %s without authentication: every local user and process can %s", addr, what)
	case ip == nil || ip.IsUnspecified():
		return fmt.Sprintf("WARNING: listening on ALL network interfaces (%s) without authentication or TLS: ANYONE WHO CAN REACH THIS MACHINE can %s. Prefer --socket, or --listen 127.0.0.1:PORT behind an authenticating proxy", addr, what)
	default:
		return fmt.Sprintf("WARNING: listening on the network address %s without authentication or TLS: ANYONE ON THAT NETWORK can %s. Prefer --socket, or --listen 127.0.0.1:PORT behind an authenticating proxy", addr, what)
	}
}

// maxLogValue is the longest string a log line of serve carries in one
// attribute; the rest is cut (a hostile client's kilobytes of reference,
// echoed by the engine's debug lines).
const maxLogValue = 1024

// clipHandler cuts long string attributes (LogValuer values resolved,
// groups included) before the next handler writes them.
type clipHandler struct{ slog.Handler }

// Handle clips the record's attributes.
func (c *clipHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, clipString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	return c.Handler.Handle(ctx, out)
}

// WithAttrs clips the attributes too.
func (c *clipHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(as))
	for i, a := range as {
		clipped[i] = clipAttr(a)
	}
	return &clipHandler{c.Handler.WithAttrs(clipped)}
}

// WithGroup keeps the clipping.
func (c *clipHandler) WithGroup(name string) slog.Handler {
	return &clipHandler{c.Handler.WithGroup(name)}
}

func clipAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, clipString(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clipped := make([]any, len(group))
		for i, g := range group {
			clipped[i] = clipAttr(g)
		}
		return slog.Group(a.Key, clipped...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, clipString(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func clipString(s string) string { return safetext.Clip(s, maxLogValue) }
