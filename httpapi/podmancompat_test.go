package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/enginetest"
)

// allTags=true with docker://HOST/REPO pulls every tag, as podman does.
func TestAllTagsDockerTransport(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	one := v.reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	two := v.reg.Push(t, "team/app:v2", enginetest.Files{"a": "2"})
	last := checkStream(t, v.pull(t, q("reference", "docker://"+v.ref("team/app"), "allTags", "true"), nil).lines(t))
	if want := []string{enginetest.ID(t, one), enginetest.ID(t, two)}; last.Status != "success" || !slices.Equal(last.Images, want) {
		t.Errorf("last line %+v, want images %v", last, want)
	}
	m := v.pull(t, q("reference", "docker://"+v.ref("team/app:v1"), "allTags", "true"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "must not carry a tag") {
		t.Errorf("an explicit tag: %+v", m)
	}
}

// The API takes no decryption keys, as libpod's: an encrypted image fails
// with a decryption error naming the layer and the image: 422 with quiet,
// a final error line of kind decryption when streaming had begun (the
// error comes once the layer is fetched).
func TestEncryptedImageHasNoKey(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	img := enginetest.NewImage(t, enginetest.OCI(), enginetest.WithLayer(t, enginetest.Files{"secret": "42"}))
	v.reg.PushEncrypted(t, "team/secret:v1", img, enginetest.NewEncryptionKey(t))
	name := v.ref("team/secret:v1")
	const want = "is encrypted and no decryption key was given"

	m := v.pull(t, q("reference", name, "quiet", "true"), nil).errorBody(t, http.StatusUnprocessableEntity)
	if !strings.Contains(m.Message, name) || !strings.Contains(m.Message, want) {
		t.Errorf("quiet: error body %+v", m)
	}
	last := checkStream(t, v.pull(t, q("reference", name), nil).lines(t))
	if last.Status != "error" || last.ErrorKind != "decryption" || last.ErrorStatus != http.StatusUnprocessableEntity || !strings.Contains(last.Error, want) {
		t.Errorf("stream: last line %+v", last)
	}
}
