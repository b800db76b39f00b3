package safetext

// Registries choose the text of their errors, and containers/image keeps
// that text whole. This file bounds what the library repeats of such text
// (in error messages, log attributes, progress events and HTTP answers) and
// escapes the characters a hostile registry could use to rewrite a terminal
// or forge log lines.

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxErrorText is the longest text of one underlying error that a
	// PullError message, log attribute or progress event repeats; the rest
	// is replaced by TruncatedSuffix.
	MaxErrorText = 4 << 10
	// MaxMessage is the longest PullError message (several candidates'
	// errors together).
	MaxMessage = 16 << 10
	// TruncatedSuffix marks text cut at MaxErrorText or MaxMessage.
	TruncatedSuffix = "…(truncated)"
	// redactWindow is how much of an over-long text is redacted before it
	// is cut: redaction is linear, but not free on 50 MB.
	redactWindow = 64 << 10
)

// Truncate returns s cut to at most limit bytes (on a rune boundary), with
// TruncatedSuffix appended when anything was cut.
func Truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return Prefix(s, limit-len(TruncatedSuffix)) + TruncatedSuffix
}

// Escape makes text from a registry (or any other untrusted source) safe to
// print on a terminal or in a log line without losing what it said: every
// Unsafe character is replaced by its Go escape ("\x1b", "\u009b",
// "\u202e"), and so is each invalid UTF-8 byte ("\xff"). Everything else,
// tabs and printable Unicode included, is kept. (progress.Sanitize drops
// the same characters instead, for a terminal line.)
func Escape(s string) string {
	if !strings.ContainsFunc(s, Unsafe) { // invalid bytes read as utf8.RuneError
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case Unsafe(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Clean is the text of an error (or any message) as the library repeats
// it: on one line, redacted, escaped and cut at limit bytes.
func Clean(s string, limit int) string {
	if len(s) > redactWindow {
		s = s[:redactWindow] // the rest is cut below anyway
	}
	return Truncate(Escape(Redact(OneLine(s))), limit)
}

// OneLine folds a multi-line message (errcode.Errors, shortnames'
// "N errors occurred while pulling:\n * ...") into one line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	var out strings.Builder
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(strings.ReplaceAll(line, "\t", " "))
		line = strings.TrimSpace(strings.TrimPrefix(line, "* "))
		if line == "" {
			continue
		}
		if out.Len() > 0 {
			if strings.HasSuffix(out.String(), ":") {
				out.WriteString(" ")
			} else {
				out.WriteString("; ")
			}
		}
		out.WriteString(line)
	}
	return out.String()
}
