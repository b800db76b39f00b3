package httpapi

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
)

// pullRequest is a pull request's query, parsed and validated.
type pullRequest struct {
	reference  string
	policy     policy.Policy
	platform   platform.Platform
	tlsVerify  *bool
	allTags    bool
	retry      *int
	retryDelay time.Duration
	local      *localPath // a path transport's source, checked, to open

	quiet, pullProgress, compatMode bool
}

// queryValues reads a raw query the way Podman's decoder (gorilla/schema)
// does: keys match case-insensitively (the Go bindings send "alltags",
// "retrydelay"), the last occurrence of a key wins, and an empty value
// counts as absent. Unknown keys are ignored (podman 4.3.1 sends
// "authfile", "username", "password"): their values are never read, so
// never echoed or logged. Keys are returned lower-cased.
func queryValues(raw string) (map[string]string, error) {
	vals := map[string]string{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badRequestf("failed to parse query parameters: a key is not URL-encoded correctly")
		}
		key = strings.ToLower(key)
		if !knownParams[key] {
			continue
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, badRequestf(fmt.Sprintf("failed to parse query parameters: %q is not URL-encoded correctly", key))
		}
		if value == "" {
			delete(vals, key)
			continue
		}
		vals[key] = value
	}
	return vals, nil
}

// knownParams are the query parameters of the pull endpoint, lower-cased.
var knownParams = map[string]bool{
	"reference": true, "policy": true,
	"arch": true, "os": true, "variant": true,
	"tlsverify": true, "alltags": true, "retry": true, "retrydelay": true,
	"quiet": true, "pullprogress": true, "compatmode": true,
}

// MaxReferenceLength is the longest reference a pull request may give, in
// bytes (PATH_MAX: a local path with its transport fits; a registry
// reference is far shorter). A longer one is answered 400, echoed cut.
const MaxReferenceLength = 4096

// maxParamLength is the longest value of the other parameters.
const maxParamLength = maxEcho

// parsePullRequest validates the query of a pull, in libpod's order, for a
// handler with no local sources allowed. Every error is a *badRequest
// (400).
func parsePullRequest(rawQuery string) (*pullRequest, error) {
	return parseQuery(rawQuery, &config{})
}

// parseQuery validates the query of a pull, in libpod's order; the
// reference's transport is checked as c allows (checkSource). Errors are
// *badRequest (400) or *forbidden (403).
func parseQuery(rawQuery string, c *config) (*pullRequest, error) {
	q, err := queryValues(rawQuery)
	if err != nil {
		return nil, err
	}
	for k, v := range q {
		if k != "reference" && len(v) > maxParamLength {
			return nil, badRequestf(fmt.Sprintf("failed to parse query parameters: %s is %d bytes long, more than %d", k, len(v), maxParamLength))
		}
	}
	req := &pullRequest{policy: policy.Always}
	bools := []struct {
		key string
		dst *bool
	}{
		{"quiet", &req.quiet}, {"pullprogress", &req.pullProgress},
		{"compatmode", &req.compatMode}, {"alltags", &req.allTags},
	}
	for _, b := range bools {
		if *b.dst, err = parseBool(q, b.key); err != nil {
			return nil, err
		}
	}
	if v, ok := q["tlsverify"]; ok {
		verify, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badRequestf(fmt.Sprintf("failed to parse query parameters: tlsVerify=%q is not a boolean", v))
		}
		req.tlsVerify = &verify
	}
	if v, ok := q["retry"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > math.MaxInt32 {
			return nil, badRequestf(fmt.Sprintf("failed to parse query parameters: retry=%q is not a number of retries (0 to %d)", v, math.MaxInt32))
		}
		retries := int(n)
		req.retry = &retries
	}

	switch {
	case req.compatMode && req.pullProgress:
		return nil, badRequestf("'compatMode' and 'pullProgress' cannot be used simultaneously")
	case req.compatMode && req.quiet:
		return nil, badRequestf("'compatMode' and 'quiet' cannot be used simultaneously")
	case req.pullProgress && req.quiet:
		return nil, badRequestf("'pullProgress' and 'quiet' cannot be used simultaneously")
	}

	req.reference = q["reference"]
	if req.reference == "" {
		return nil, badRequestf("reference parameter cannot be empty")
	}
	if len(req.reference) > MaxReferenceLength {
		return nil, badRequestf(fmt.Sprintf("reference %q is %d bytes long, more than %d", clip(req.reference), len(req.reference), MaxReferenceLength))
	}
	if req.reference, req.local, err = c.checkSource(req.reference); err != nil {
		return nil, err
	}
	if v, ok := q["policy"]; ok {
		if req.policy, err = policy.Parse(v); err != nil {
			return nil, badRequestf(err.Error())
		}
	}
	if req.platform, err = parsePlatform(q["os"], q["arch"], q["variant"]); err != nil {
		return nil, err
	}
	if v, ok := q["retrydelay"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, badRequestf(fmt.Sprintf("failed to parse query parameters: retryDelay=%q is not a duration such as \"2s\" or \"500ms\"", v))
		}
		// The engine reads a zero delay as "the default"; libpod's
		// retryDelay=0s means no delay, which the smallest delay is.
		req.retryDelay = max(d, time.Nanosecond)
	}
	return req, nil
}

// parseBool reads an optional boolean parameter (strconv.ParseBool's
// spellings, as gorilla/schema).
func parseBool(q map[string]string, key string) (bool, error) {
	v, ok := q[key]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequestf(fmt.Sprintf("failed to parse query parameters: %s=%q is not a boolean", key, v))
	}
	return b, nil
}

// parsePlatform builds the platform of the OS, Arch and Variant parameters.
// A part left out is the host's, as in libimage; a variant needs an
// architecture.
func parsePlatform(os, arch, variant string) (platform.Platform, error) {
	if os == "" && arch == "" && variant == "" {
		return platform.Platform{}, nil
	}
	for _, part := range []struct{ name, value string }{{"OS", os}, {"Arch", arch}, {"Variant", variant}} {
		if strings.Contains(part.value, "/") {
			return platform.Platform{}, badRequestf(fmt.Sprintf("invalid platform: %s=%q holds a '/'; give the OS, Arch and Variant parameters separately", part.name, part.value))
		}
	}
	if variant != "" && arch == "" {
		return platform.Platform{}, badRequestf(fmt.Sprintf("invalid platform: Variant=%q needs Arch", variant))
	}
	host := platform.Host()
	s := os
	if s == "" {
		s = host.OS
	}
	if arch == "" {
		s += "/" + host.Architecture
	} else {
		s += "/" + arch
	}
	if variant != "" {
		s += "/" + variant
	}
	p, err := platform.Parse(s)
	if err != nil {
		return p, badRequestf(fmt.Sprintf("OS=%q Arch=%q Variant=%q: %v", os, arch, variant, err))
	}
	if arch == "" && p.Architecture == host.Architecture {
		p.Variant = host.Variant
	}
	return p, nil
}
