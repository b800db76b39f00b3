package safetext

import (
	"regexp"
	"strings"
)

// redacted replaces every secret Redact removes.
const redacted = "xxxxx"

var (
	// scheme://userinfo@ (the scheme may be missing) — greedy up to the last
	// '@' before the path, so that a password holding a raw '@' is removed
	// whole.
	urlUserinfo = regexp.MustCompile(`(?:[A-Za-z][A-Za-z0-9+.\-]*)?://[^\s/?#"'<>]*@`)
	// user:password@ at the start of a word, without a scheme (or with a
	// bare "//"): an image name given as "user:secret@registry/app" (or with a raw '@' in the
	// password, up to the last '@' before the path). A colon is required, so
	// "user@example.com" stays; '[' ends the word, so
	// "containers-storage:[vfs@/dir]" stays.
	bareUserinfo = regexp.MustCompile(`((?:^|[\s"'(=\[,;])(?://)?)([^\s/?#"'<>\[\]@:=,;(]+:[^\s/?#"'<>\[\]]*)@`)
	// "docker://busybox@sha256:..." is a digest, not userinfo.
	digestAfterAt = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}`)
	// Authorization header values.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)`)
	// Secrets in query strings and key=value text, e.g. S3/GCS signed blob URLs.
	secretParam = regexp.MustCompile(`(?i)((?:^|[?&;\s,(])(?:access_token|refresh_token|id_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&\s"'#;,)]*`)
	// Secrets in JSON documents (auth files, token responses).
	secretJSON = regexp.MustCompile(`(?i)("(?:password|passwd|auth|identitytoken|identity_token|registrytoken|access_token|refresh_token|token|secret)"\s*:\s*")(?:[^"\\]|\\.)*"`)
)

// Redact removes credentials from a message: the userinfo of URLs
// ("https://user:pass@host" becomes "https://xxxxx@host") and of image
// names without a scheme ("user:pass@host/app" becomes "xxxxx@host/app"; a
// password holding '/', which a URL would percent-encode, cannot be told
// from a path and is not supported), Basic and Bearer
// authorization values, secret query parameters (access_token, signatures of
// pre-signed blob URLs, ...) and secret fields of JSON documents. Every
// message pullerrors produces goes through it (Clean); code that prints an
// underlying error or an input name itself passes its text through it too.
func Redact(s string) string {
	if strings.Contains(s, "@") {
		s = redactUserinfo(s)
		s = redactBareUserinfo(s)
	}
	s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := authScheme.FindStringSubmatch(m)
		if !looksLikeToken(sub[3]) {
			return m
		}
		return sub[1] + sub[2] + redacted
	})
	s = secretParam.ReplaceAllString(s, "${1}"+redacted)
	s = secretJSON.ReplaceAllString(s, `${1}`+redacted+`"`)
	return s
}

// redactUserinfo replaces the userinfo of URLs ("scheme://user:pass@").
func redactUserinfo(s string) string {
	return replaceUserinfo(s, urlUserinfo, func(s string, loc []int) int {
		return strings.Index(s[loc[0]:loc[1]], "://") + loc[0] + len("://")
	})
}

// redactBareUserinfo replaces the "user:password" of scheme-less names.
func redactBareUserinfo(s string) string {
	return replaceUserinfo(s, bareUserinfo, func(_ string, loc []int) int {
		return loc[4] // the userinfo group
	})
}

// replaceUserinfo replaces, in each match of re (which ends with the '@'),
// the userinfo from start(s, match) on with "xxxxx@"; a match followed by
// a digest ("busybox@sha256:...") is not userinfo and stays.
func replaceUserinfo(s string, re *regexp.Regexp, start func(s string, loc []int) int) string {
	var b strings.Builder
	last := 0
	for _, loc := range re.FindAllStringSubmatchIndex(s, -1) {
		end := loc[1]
		if digestAfterAt.MatchString(s[end:]) {
			continue
		}
		b.WriteString(s[last:start(s, loc)])
		b.WriteString(redacted + "@")
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// looksLikeToken tells a credential ("dXNlcjpwYXNz", a JWT) from an English
// word following "Basic" or "Bearer" ("basic authentication").
func looksLikeToken(s string) bool {
	return strings.ContainsAny(s, "0123456789+/=._~-")
}
