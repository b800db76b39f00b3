package httpapi

import (
	"strings"
	"testing"

	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/internal/safetext"
)

// A registry's error text with escape sequences, C1 controls and bidi
// overrides reaches the error body's cause and message, and compat mode's
// message, only escaped: as the engine's own messages (issue 22, 10).
func TestHostileRegistryTextEscaped(t *testing.T) {
	t.Parallel()
	v := newEnv(t, withRegistryOptions(registryfaults.EscapeSequences(manifests, -1, 403, "DENIED")))
	ref := v.ref("hostile/app:v1")
	for _, mode := range []string{"stream", "compatMode"} {
		query := q("reference", ref)
		if mode != "stream" {
			query.Set(mode, "true")
		}
		a := v.pull(t, query, nil)
		var texts map[string]string
		if mode == "compatMode" {
			texts = map[string]string{"message": a.compatErrorBody(t, 403)}
		} else {
			m := a.errorBody(t, 403)
			texts = map[string]string{"cause": m.Because, "message": m.Message}
		}
		for field, text := range texts {
			if i := strings.IndexFunc(text, safetext.Unsafe); i >= 0 {
				t.Errorf("%s: %s holds %q at %d: %q", mode, field, text[i:min(i+4, len(text))], i, text)
			}
			// The registry's words are there, escaped, not dropped.
			if !strings.Contains(text, `\x1b]0;owned\a`) || !strings.Contains(text, `\u202eevil`) {
				t.Errorf("%s: %s %q lacks the registry's escaped text", mode, field, text)
			}
		}
		// The raw body, before JSON decoding, has no escape either: JSON
		// would write ESC as \u001b, which a client prints as ESC.
		if strings.Contains(string(a.body), `\u001b`) || strings.Contains(string(a.body), "\u009b") {
			t.Errorf("%s: body carries a raw escape: %s", mode, a.body)
		}
	}
}
