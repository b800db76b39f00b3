package progress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

var (
	layerDigest  = digest.Digest("sha256:" + strings.Repeat("a", 64))
	configDigest = digest.Digest("sha256:" + strings.Repeat("c", 64))
	imageID      = strings.Repeat("f", 64)
)

// TestJSONLinesEvents is the line table: for each event (after a
// TryingCandidate, whose own line is not shown), the lines written without
// and with pullProgress.
func TestJSONLinesEvents(t *testing.T) {
	const sigs = `{"status":"pulling","stream":"Getting image source signatures\n"}` + "\n"
	const copyBlob = `{"status":"pulling","stream":"Copying blob sha256:` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `\n"}` + "\n"
	const copyConfig = `{"status":"pulling","stream":"Copying config sha256:` + "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" + `\n"}` + "\n"
	const aID = `"progressComponentID":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`
	tests := []struct {
		name     string
		ev       Event
		plain    string
		progress string // extra lines with PullProgress
	}{
		{"resolving without message", Event{Kind: Resolving, Ref: "alpine"}, "", ""},
		{"resolving with message",
			Event{Kind: Resolving, Ref: "alpine", Message: `Resolved "alpine" as an alias (/etc/containers/registries.conf.d/000-shortnames.conf)`},
			`{"status":"pulling","stream":"Resolved \"alpine\" as an alias (/etc/containers/registries.conf.d/000-shortnames.conf)\n"}` + "\n", ""},
		{"policy decision", Event{Kind: PolicyDecision, Message: "pulling: policy always"}, "", ""},
		{"trying candidate", Event{Kind: TryingCandidate, Ref: "quay.io/x/y:1"},
			`{"status":"pulling","stream":"Trying to pull quay.io/x/y:1...\n"}` + "\n", ""},
		{"blob started", Event{Kind: BlobStarted, Digest: layerDigest, Total: 1000},
			sigs + copyBlob,
			`{"status":"pulling","stream":"Starting to pull artifact","pullProgress":{"status":"pulling","total":1000,` + aID + `}}` + "\n"},
		{"blob started, size unknown", Event{Kind: BlobStarted, Digest: layerDigest, Total: -1},
			sigs + copyBlob,
			`{"status":"pulling","stream":"Starting to pull artifact","pullProgress":{"status":"pulling","total":-1,` + aID + `}}` + "\n"},
		{"config started", Event{Kind: BlobStarted, Digest: configDigest, Config: true, Total: 151},
			sigs + copyConfig,
			`{"status":"pulling","stream":"Starting to pull artifact","pullProgress":{"status":"pulling","total":151,"progressComponentID":"` + configDigest.String() + `"}}` + "\n"},
		{"blob progress", Event{Kind: BlobProgress, Digest: layerDigest, Current: 400, Total: 1000}, "",
			`{"status":"pulling","stream":"Pulling artifact","pullProgress":{"status":"pulling","current":400,"total":1000,` + aID + `}}` + "\n"},
		{"blob done", Event{Kind: BlobDone, Digest: layerDigest, Current: 1000, Total: 1000}, "",
			`{"status":"pulling","stream":"Artifact pulled successfully","pullProgress":{"status":"success","current":1000,"total":1000,` + aID + `}}` + "\n"},
		{"blob done partially", Event{Kind: BlobDone, Digest: layerDigest, Current: 30, Total: 1000}, "",
			`{"status":"pulling","stream":"Artifact pulled successfully","pullProgress":{"status":"success","current":30,"total":1000,` + aID + `,"bytesCached":970}}` + "\n"},
		{"blob skipped", Event{Kind: BlobSkipped, Digest: layerDigest, Total: 1000},
			sigs + copyBlob,
			`{"status":"pulling","stream":"Artifact already exists","pullProgress":{"status":"skipped",` + aID + `}}` + "\n"},
		{"config written", Event{Kind: ConfigWritten, Digest: configDigest, Config: true}, "", ""},
		{"manifest written", Event{Kind: ManifestWritten},
			`{"status":"pulling","stream":"Writing manifest to image destination\n"}` + "\n", ""},
		{"warning", Event{Kind: Warning, Message: `image platform (linux/arm64) does not match the expected platform (linux/amd64)`},
			`{"status":"pulling","stream":"WARNING: image platform (linux/arm64) does not match the expected platform (linux/amd64)\n"}` + "\n", ""},
		{"done", Event{Kind: Done, ImageIDs: []string{imageID}},
			`{"status":"success","images":["` + imageID + `"],"id":"` + imageID + `"}` + "\n", ""},
		{"done, several images", Event{Kind: Done, ImageIDs: []string{"1", "2"}},
			`{"status":"success","images":["1","2"],"id":"2"}` + "\n", ""},
		{"failed", Event{Kind: Failed, Err: errors.New(`initializing source docker://x:1: reading manifest 1 in docker.io/library/x: manifest unknown`),
			ErrorKind: "not-found", ErrorStatus: 404},
			`{"status":"error","error":"initializing source docker://x:1: reading manifest 1 in docker.io/library/x: manifest unknown","errorKind":"not-found","errorStatus":404}` + "\n", ""},
		{"failed, HTML escaped like Podman", Event{Kind: Failed, Err: errors.New(`a <b> & c`)},
			`{"status":"error","error":"a \u003cb\u003e \u0026 c"}` + "\n", ""},
	}
	for _, tt := range tests {
		for _, pp := range []bool{false, true} {
			var buf bytes.Buffer
			j := NewJSONLines(&buf, &JSONLinesOptions{PullProgress: pp})
			j.Emit(Event{Kind: TryingCandidate, Ref: "r"})
			buf.Reset()
			j.Emit(tt.ev)
			want := tt.plain
			if pp {
				want += tt.progress
			}
			if got := buf.String(); got != want {
				t.Errorf("%s (pullProgress=%v):\n got %s\nwant %s", tt.name, pp, got, want)
			}
			checkPodmanShape(t, buf.Bytes())
		}
	}
}

// TestJSONLinesPull renders a whole pull as Podman 6 streams it (without
// pullProgress): one candidate, a skipped layer, a transferred layer, the
// config, the manifest, success.
func TestJSONLinesPull(t *testing.T) {
	other := digest.Digest("sha256:" + strings.Repeat("b", 64))
	var buf bytes.Buffer
	j := NewJSONLines(&buf, nil)
	for _, e := range []Event{
		{Kind: Resolving, Ref: "alpine"},
		{Kind: PolicyDecision, Ref: "alpine", Message: "pull: policy always"},
		{Kind: TryingCandidate, Ref: "docker.io/library/alpine:latest"},
		{Kind: BlobSkipped, Digest: other, Total: 10},
		{Kind: BlobStarted, Digest: layerDigest, Total: 100},
		{Kind: BlobProgress, Digest: layerDigest, Current: 50, Total: 100},
		{Kind: BlobDone, Digest: layerDigest, Current: 100, Total: 100},
		{Kind: BlobStarted, Digest: configDigest, Config: true, Total: 7},
		{Kind: BlobDone, Digest: configDigest, Config: true, Current: 7, Total: 7},
		{Kind: ConfigWritten, Digest: configDigest, Config: true, Current: 7, Total: 7},
		{Kind: ManifestWritten},
		{Kind: Done, ImageIDs: []string{imageID}},
	} {
		j.Emit(e)
	}
	want := `{"status":"pulling","stream":"Trying to pull docker.io/library/alpine:latest...\n"}
{"status":"pulling","stream":"Getting image source signatures\n"}
{"status":"pulling","stream":"Copying blob ` + other.String() + `\n"}
{"status":"pulling","stream":"Copying blob ` + layerDigest.String() + `\n"}
{"status":"pulling","stream":"Copying config ` + configDigest.String() + `\n"}
{"status":"pulling","stream":"Writing manifest to image destination\n"}
{"status":"success","images":["` + imageID + `"],"id":"` + imageID + `"}
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkPodmanShape(t, buf.Bytes())
	if j.Err() != nil {
		t.Error(j.Err())
	}
}

// TestJSONLinesSecondCandidate: each candidate gets its own signatures line.
func TestJSONLinesSecondCandidate(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONLines(&buf, nil)
	for _, ref := range []string{"a", "b"} {
		j.Emit(Event{Kind: TryingCandidate, Ref: ref})
		j.Emit(Event{Kind: BlobStarted, Digest: layerDigest, Total: 1})
	}
	if n := strings.Count(buf.String(), "Getting image source signatures"); n != 2 {
		t.Errorf("%d signature lines, want 2:\n%s", n, buf.String())
	}
}

// podmanReport is Podman's entities.ImagePullReport, copied field for field
// (pkg/domain/entities/types/images.go), to check our lines round-trip to the
// same bytes through Podman's own type.
type podmanReport struct {
	Status   string          `json:"status,omitempty"`
	Stream   string          `json:"stream,omitempty"`
	Error    string          `json:"error,omitempty"`
	Images   []string        `json:"images,omitempty"`
	ID       string          `json:"id,omitempty"`
	Progress *podmanProgress `json:"pullProgress,omitempty"`
}

type podmanProgress struct {
	Status              string `json:"status,omitempty"`
	Current             uint64 `json:"current,omitempty"`
	Total               int64  `json:"total,omitempty"`
	ProgressComponentID string `json:"progressComponentID,omitempty"`
}

// checkPodmanShape decodes every line into Podman's type and re-encodes it
// with a json.Encoder as libpod does; lines without our extra fields must
// come out byte-identical, and every line carries status plus one of
// stream/error/images/id (what Podman's clients require).
func checkPodmanShape(t *testing.T, out []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		var r podmanReport
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&r); err != nil {
			t.Errorf("line %s: %v", line, err)
			continue
		}
		if r.Status == "" || r.Stream == "" && r.Error == "" && len(r.Images) == 0 && r.ID == "" {
			t.Errorf("line %s: a Podman client would reject it", line)
		}
		if strings.Contains(line, `"errorKind"`) || strings.Contains(line, `"errorStatus"`) || strings.Contains(line, `"bytesCached"`) {
			continue
		}
		var again bytes.Buffer
		if err := json.NewEncoder(&again).Encode(r); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSuffix(again.String(), "\n") != line {
			t.Errorf("Podman's type encodes\n%s\nas\n%s", line, again.String())
		}
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("broken pipe")
}

// TestJSONLinesWriteError: after a write error nothing more is written.
func TestJSONLinesWriteError(t *testing.T) {
	w := &failingWriter{}
	j := NewJSONLines(w, nil)
	j.Emit(Event{Kind: TryingCandidate, Ref: "a"})
	j.Emit(Event{Kind: ManifestWritten})
	if j.Err() == nil || w.n != 1 {
		t.Errorf("Err = %v after %d writes, want an error after 1", j.Err(), w.n)
	}
}

type flushRecorder struct {
	bytes.Buffer
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++ }

func TestJSONLinesFlushes(t *testing.T) {
	var w flushRecorder
	j := NewJSONLines(&w, nil)
	j.Emit(Event{Kind: TryingCandidate, Ref: "a"})
	j.Emit(Event{Kind: BlobStarted, Digest: layerDigest})
	if w.flushes != 3 {
		t.Errorf("%d flushes, want one per line (3)", w.flushes)
	}
}

func TestJSONLinesBufioFlush(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	NewJSONLines(bw, nil).Emit(Event{Kind: ManifestWritten})
	if buf.Len() == 0 {
		t.Error("bufio.Writer not flushed")
	}
}
