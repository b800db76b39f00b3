package engine_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	"github.com/pullengine/pullengine/internal/registryfaults"
	"github.com/pullengine/pullengine/policy"
)

// A registries.conf entry that rewrites the prefix A/org to the location
// B/org sends every request of a pull there, as containers/image sends
// the pull: the pull itself, the ranged GET that resumes a cut layer (with
// B's credentials, not A's), and the tag list of an AllTags pull. A
// receives no request at all, and AllTags lists B's tags, not A's.
func TestLocationRewriteReachesOnlyTheLocation(t *testing.T) {
	const user, pass = "bob", "b-secret"
	ri := newResumeImage(t, 2<<20)
	var a armed
	// Every GET containers/image makes for the layer (whole, then its own
	// one reconnect with an open range) is cut after 512 KiB: only the
	// engine's resume, a closed range, gets the rest.
	notClosedRange := func(r *http.Request) bool {
		return strings.HasSuffix(r.Header.Get("Range"), "-") || r.Header.Get("Range") == ""
	}
	b := enginetest.NewRegistry(t, registryfaults.CutAt(enginetest.And(a.blob(ri.layer), notClosedRange), -1, 512<<10), enginetest.WithBasicAuth(user, pass))
	b.PushImage(t, "org/app:v1", ri.img)
	b.Push(t, "org/app:v2", enginetest.Files{"b": "2"})
	aReg := enginetest.NewRegistry(t) // A holds other tags of the same name: listing them would show
	aReg.Push(t, "org/app:v1", enginetest.Files{"a": "1"})
	aReg.Push(t, "org/app:a-only", enginetest.Files{"a": "2"})
	aReg.Requests.Reset()

	conf := fmt.Sprintf("[[registry]]\nprefix = %q\nlocation = %q\ninsecure = true\n", aReg.Host+"/org", b.Host+"/org")
	basic := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`, b.Host, basic(user, pass), aReg.Host, basic("alice", "a-secret"))
	opts := enginetest.NewEngineOptions(t, enginetest.WithRegistriesConf(conf), enginetest.WithAuthJSON(auth))
	e := newEngine(t, opts)
	ctx := context.Background()
	name := aReg.Host + "/org/app"

	t.Run("pull", func(t *testing.T) {
		res, err := e.Pull(ctx, name+":v1", policy.Always, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Images[0].ID != enginetest.ID(t, ri.img) {
			t.Errorf("pulled %s, want B's image %s", res.Images[0].ID, enginetest.ID(t, ri.img))
		}
	})
	t.Run("resumed pull", func(t *testing.T) {
		if _, err := e.Store().DeleteImage(enginetest.ID(t, ri.img), true); err != nil {
			t.Fatal(err)
		}
		a.on.Store(true)
		defer a.on.Store(false)
		b.Requests.Reset()
		res, err := e.Pull(ctx, name+":v1", policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Images[0].ID != enginetest.ID(t, ri.img) {
			t.Errorf("pulled %s", res.Images[0].ID)
		}
		// The cut GETs' bytes and a ranged GET for the rest: the layer's
		// bytes once (plus the error body of the 401 that asks our client
		// for credentials). A resume elsewhere would fall back to B's
		// whole blob: 512 KiB more at least.
		if got, want := b.Requests.BlobBytes(), ri.layerSize+ri.configSize; got < want || got > want+4096 {
			t.Errorf("B served %d blob bytes, want %d (the layer once: resumed with a range at B): %v", got, want, b.Requests.Log())
		}
	})
	t.Run("all tags", func(t *testing.T) {
		res, err := e.Pull(ctx, name, policy.Missing, &engine.PullOptions{AllTags: true})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, img := range res.Images {
			names = append(names, img.Names...)
		}
		slices.Sort(names)
		if want := []string{name + ":v1", name + ":v2"}; !slices.Equal(names, want) {
			t.Errorf("AllTags stored %v, want B's tags %v", names, want)
		}
	})
	if n := aReg.Requests.Total(); n != 0 {
		t.Errorf("A, rewritten away, received %d requests: %v", n, aReg.Requests.Log())
	}
	assertTmpEmpty(t, e)
	if p := partials(t, opts); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
}
