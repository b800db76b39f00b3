package httpapi

// Guards for a server reachable over TCP: browser-origin requests and DNS
// rebinding (checkOrigin), the number of pulls at once (acquire), the
// retries a request may ask for, and the length of what an answer or a log
// line echoes back (clip).

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pullengine/pullengine/internal/safetext"
)

// DefaultMaxRetries is the largest retry parameter a pull request may give
// unless Options.MaxRetries says otherwise: a transient failure is retried at
// most this many times (the backoff doubles from retryDelay up to 30s).
const DefaultMaxRetries = 10

// DefaultMaxLocalSourceBytes is the default of
// Options.MaxLocalSourceBytes: 16 GiB.
const DefaultMaxLocalSourceBytes = 16 << 30

// busyRetryAfter is the Retry-After of a pull refused because the server
// runs as many pulls as it allows.
const busyRetryAfter = 2 * time.Second

// maxEcho is the length past which input echoed in an answer or a log
// line (a reference, a parameter) is cut, with the number of bytes left
// out.
const maxEcho = 256

// allowedHosts is the set of names a Host check accepts: localhost and
// names, in lower case without a final dot.
func allowedHosts(names []string) map[string]bool {
	allowed := map[string]bool{"localhost": true}
	for _, n := range names {
		allowed[strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	return allowed
}

// checkOrigin refuses browser requests — any request with an Origin
// header, or a Sec-Fetch-Site other than "none" (a cross-site form POST
// needs no CORS preflight) — and, with Options.HostCheck, a Host that is not
// an address, localhost or an allowed name. No client of the libpod API
// sends either header; a web page the user visits does.
func (h *handler) checkOrigin(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		return forbiddenf("requests from web pages are refused (Origin %q): this API is for programs, not browsers", clip(o))
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "none" {
		return forbiddenf("requests from web pages are refused (Sec-Fetch-Site %q): this API is for programs, not browsers", clip(site))
	}
	if h.cfg.hostCheck && !h.hostAllowed(r.Host) {
		return forbiddenf("Host %q is not this server's: use its address or localhost (a name pointing here must be allowed by the operator)", clip(r.Host))
	}
	return nil
}

// hostAllowed reports whether a Host header names this server: an IP
// address (DNS rebinding needs a name), localhost, or an allowed name.
func (h *handler) hostAllowed(host string) bool {
	if hostname, _, err := net.SplitHostPort(host); err == nil {
		host = hostname
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	return h.cfg.allowedHosts[host]
}

// acquire takes a pull slot; it answers 429 and returns false when every
// slot is taken. release gives the slot back.
func (h *handler) acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if h.cfg.maxPulls == nil {
		return func() {}, true
	}
	select {
	case h.cfg.maxPulls <- struct{}{}:
		return func() { <-h.cfg.maxPulls }, true
	default:
	}
	err := fmt.Errorf("too many pulls at once: this server runs at most %d; try again later", cap(h.cfg.maxPulls))
	h.cfg.log.WarnContext(r.Context(), "pull refused", "status", http.StatusTooManyRequests, "err", err.Error())
	w.Header().Set("Retry-After", strconv.Itoa(int(busyRetryAfter/time.Second)))
	writeError(w, http.StatusTooManyRequests, err)
	return nil, false
}

// checkRetries refuses a retry parameter over the server's limit.
func (h *handler) checkRetries(req *pullRequest) error {
	if req.retry != nil && *req.retry > h.cfg.maxRetries {
		return badRequestf(fmt.Sprintf("retry=%d is more than this server allows (at most %d retries)", *req.retry, h.cfg.maxRetries))
	}
	return nil
}

// clip cuts s to maxEcho bytes (on a rune boundary), saying how much was
// left out.
func clip(s string) string { return safetext.Clip(s, maxEcho) }

// longWord is a run of maxEcho+1 or more characters without a space or a
// quote: an echoed reference or path of kilobytes.
var longWord = regexp.MustCompile(`[^\s"]{` + strconv.Itoa(maxEcho+1) + `,}`)

// clipWords clips every long word of msg, so that an invalid reference of
// kilobytes is not repeated whole by each layer of an error message.
func clipWords(msg string) string {
	if len(msg) <= maxEcho {
		return msg
	}
	return longWord.ReplaceAllStringFunc(msg, clip)
}

// forbidden is a request refused for what it asks (403), before any pull.
type forbidden struct{ msg string }

func (e *forbidden) Error() string { return e.msg }

func forbiddenf(format string, args ...any) error {
	return &forbidden{msg: fmt.Sprintf(format, args...)}
}
