package registryclient

import "strings"

// A registry's header can be megabytes ("a a a ...": a challenge per two
// bytes); what is kept of it is bounded, what follows is not parsed.
const (
	// maxChallenges bounds the challenges kept of all values together.
	maxChallenges = 16
	// maxParams bounds the parameters kept of one challenge.
	maxParams = 32
)

// Challenge is one WWW-Authenticate challenge.
type Challenge struct {
	// Scheme is the scheme, lower case ("bearer", "basic").
	Scheme string
	// Params are the parameters, keys lower case.
	Params map[string]string
}

// ParseChallenges parses WWW-Authenticate values: a scheme, then
// comma-separated key=value or key="quoted value" parameters; a new scheme
// starts a new challenge. It accepts anything a registry sends and ends:
// every step consumes input, and the time is linear in the input. At most
// maxChallenges challenges of maxParams parameters each are kept.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		s := strings.TrimSpace(v)
		for s != "" && len(out) < maxChallenges {
			scheme, rest, _ := strings.Cut(s, " ")
			c := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
			s = parseParams(strings.TrimSpace(rest), c.Params)
			out = append(out, c)
		}
	}
	return out
}

// parseParams reads parameters into params and returns what follows them
// (the next challenge). Spaces around "=" are allowed (RFC 7235's BWS); a
// word followed by a space and no "=" starts the next challenge. Every
// turn of the loop consumes input or returns.
func parseParams(s string, params map[string]string) string {
	for s != "" {
		end := strings.IndexAny(s, " ,=")
		if end < 0 {
			return "" // a lone word (a token68): nothing we use
		}
		key := s[:end]
		after := strings.TrimLeft(s[end:], " ")
		if strings.HasPrefix(after, "=") {
			val, rest := parseValue(strings.TrimLeft(after[1:], " "))
			k := strings.ToLower(key)
			if _, seen := params[k]; seen || len(params) < maxParams {
				params[k] = val
			}
			s = strings.TrimLeft(rest, " ,")
			continue
		}
		if key != "" && s[end] == ' ' && !strings.HasPrefix(after, ",") {
			return s // "Basic realm=x, Bearer ...": s starts the next challenge
		}
		s = strings.TrimLeft(s[end:], " ,")
	}
	return ""
}

// parseValue reads a token or a quoted string (backslash escapes one
// character) and returns it and what follows.
func parseValue(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ", ")
		if end < 0 {
			end = len(s)
		}
		return s[:end], s[end:]
	}
	var b strings.Builder
	i := 1
	for ; i < len(s) && s[i] != '"'; i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), s[min(i+1, len(s)):]
}
