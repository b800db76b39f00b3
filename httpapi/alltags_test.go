package httpapi

import (
	"bytes"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// MaxTags -1 refuses allTags before any request to the registry; MaxTags
// n refuses a repository with more than n tags.
func TestMaxTags(t *testing.T) {
	t.Parallel()
	off := newEnv(t, withHandlerOptions(Options{MaxTags: -1}))
	off.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	if a := off.pull(t, q("reference", off.ref("team/app"), "allTags", "true"), nil); a.status != 400 || !bytes.Contains(a.body, []byte("allTags is disabled")) {
		t.Errorf("allTags refused: %d %s", a.status, a.body)
	}
	if n := off.reg.Requests.Count(enginetest.TagsList); n != 0 {
		t.Errorf("%d tag listings", n)
	}

	capped := newEnv(t, withHandlerOptions(Options{MaxTags: 1}))
	capped.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	capped.reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"})
	if a := capped.pull(t, q("reference", capped.ref("team/app"), "allTags", "true", "quiet", "true"), nil); a.status != 400 || !bytes.Contains(a.body, []byte("more than 1 tags")) {
		t.Errorf("2 tags, at most 1: %d %s", a.status, a.body)
	}
	if n := capped.reg.Requests.Count(enginetest.ManifestGet); n != 0 {
		t.Errorf("%d manifests fetched", n)
	}
}
