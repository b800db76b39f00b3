package progress

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// PullReport is one line of the libpod pull stream. Its fields, their JSON
// names, order and omitempty rules are those of Podman's
// entities.ImagePullReport (pkg/domain/entities/types/images.go), so a
// marshaled PullReport is byte-for-byte what Podman writes. ErrorKind and
// ErrorStatus are additions, set only on a final error line; clients that do
// not know them ignore them.
type PullReport struct {
	// Status is "pulling", "success" or "error".
	Status string `json:"status,omitempty"`
	// Stream is a line of c/image-style text output, newline included.
	Stream string `json:"stream,omitempty"`
	// Error is the text of the error that failed the pull.
	Error string `json:"error,omitempty"`
	// Images are the IDs of the pulled images.
	Images []string `json:"images,omitempty"`
	// ID is the last of Images (kept by libpod for compatibility).
	ID string `json:"id,omitempty"`
	// Progress is the per-blob progress of libpod's ?pullProgress=true.
	Progress *ArtifactProgress `json:"pullProgress,omitempty"`
	// ErrorKind is the classified kind of Error, such as "not-found".
	ErrorKind string `json:"errorKind,omitempty"`
	// ErrorStatus is the HTTP status matching Error, such as 404.
	ErrorStatus int `json:"errorStatus,omitempty"`
}

// ArtifactProgress is Podman's entities.ArtifactPullProgress: the progress of
// one blob in a [PullReport].
type ArtifactProgress struct {
	// Status is "pulling", "success" or "skipped".
	Status string `json:"status,omitempty"`
	// Current is the number of bytes transferred.
	Current uint64 `json:"current,omitempty"`
	// Total is the blob's size, -1 if unknown.
	Total int64 `json:"total,omitempty"`
	// ProgressComponentID is the blob's digest ("sha256:...").
	ProgressComponentID string `json:"progressComponentID,omitempty"`
	// BytesCached is an addition to Podman's fields, set only on the
	// "success" line of a layer pulled partially (zstd:chunked): the bytes
	// of the blob not fetched because the store had their files (see
	// [Event.Cached]; bootc's progress has a bytes_cached field of that
	// meaning). Current is then the bytes fetched. Clients that do not
	// know the field ignore it.
	BytesCached uint64 `json:"bytesCached,omitempty"`
}

// JSONLinesOptions configures [NewJSONLines].
type JSONLinesOptions struct {
	// PullProgress adds the per-blob pullProgress lines that libpod writes
	// for ?pullProgress=true. Without it, blob byte counts are not written,
	// as with libpod's default.
	PullProgress bool
}

// JSONLines is a [Sink] writing the stream of libpod's
// POST /libpod/images/pull (streaming mode, Podman 6): one [PullReport] as
// JSON per line. The lines are those Podman writes for the same pull:
//
//	Resolving with a Message  {"status":"pulling","stream":"<Message>\n"}
//	TryingCandidate           {"status":"pulling","stream":"Trying to pull <Ref>...\n"}
//	first blob of a candidate {"status":"pulling","stream":"Getting image source signatures\n"}
//	BlobStarted, BlobSkipped  {"status":"pulling","stream":"Copying blob sha256:...\n"} ("Copying config" for the config)
//	Warning                   {"status":"pulling","stream":"WARNING: <Message>\n"}
//	Retrying                  {"status":"pulling","stream":"Failed, retrying in 2s ... (1/3). Error: <Message>\n"}
//	ManifestWritten           {"status":"pulling","stream":"Writing manifest to image destination\n"}
//	Done                      {"status":"success","images":[...],"id":"<last>"}
//	Failed                    {"status":"error","error":"...","errorKind":"...","errorStatus":N}
//
// With [JSONLinesOptions.PullProgress], each blob event also writes a
// pullProgress line ("Starting to pull artifact", "Pulling artifact",
// "Artifact pulled successfully", "Artifact already exists"). PolicyDecision
// and ConfigWritten write nothing (Podman has no such line).
//
// Every line is written with a single Write; when w has a Flush method (an
// http.ResponseWriter, a bufio.Writer) it is flushed after each line. After a
// write error, JSONLines writes nothing more; Err returns the error. Emit is
// safe for concurrent use.
type JSONLines struct {
	opts JSONLinesOptions

	mu      sync.Mutex
	w       io.Writer
	enc     *json.Encoder
	started map[digest.Digest]bool // blobs with a "Copying" line in this copy
	sigs    bool                   // the signatures line of this copy is written
	err     error
}

// NewJSONLines returns a [JSONLines] writing to w. A nil opts means the
// defaults (the zero JSONLinesOptions).
func NewJSONLines(w io.Writer, opts *JSONLinesOptions) *JSONLines {
	j := &JSONLines{w: w, enc: json.NewEncoder(w), started: map[digest.Digest]bool{}}
	if opts != nil {
		j.opts = *opts
	}
	return j
}

// Emit writes the lines for e.
func (j *JSONLines) Emit(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range j.reports(e) {
		if j.err != nil {
			return
		}
		j.err = j.enc.Encode(r)
		j.flush()
	}
}

// Err returns the first error writing to the underlying writer.
func (j *JSONLines) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// flush flushes the writer if it can be flushed.
func (j *JSONLines) flush() {
	switch f := j.w.(type) {
	case interface{ Flush() }:
		f.Flush()
	case interface{ Flush() error }:
		if err := f.Flush(); err != nil && j.err == nil {
			j.err = err
		}
	}
}

// reports returns the lines for e, updating the per-copy state.
func (j *JSONLines) reports(e Event) []PullReport {
	switch e.Kind {
	case Resolving:
		if e.Message == "" {
			return nil
		}
		return []PullReport{stream(e.Message + "\n")}
	case TryingCandidate:
		j.sigs = false
		clear(j.started)
		return []PullReport{stream("Trying to pull " + e.Ref + "...\n")}
	case Warning:
		return []PullReport{stream("WARNING: " + e.Message + "\n")}
	case Retrying: // the copy starts over: its lines are written again
		j.sigs = false
		clear(j.started)
		return []PullReport{stream(e.RetryText() + "\n")}
	case BlobStarted, BlobProgress, BlobDone, BlobSkipped:
		return j.blobReports(e)
	case ManifestWritten:
		return []PullReport{stream("Writing manifest to image destination\n")}
	case Done:
		return []PullReport{doneReport(e)}
	case Failed:
		return []PullReport{failedReport(e)}
	}
	return nil
}

// blobReports returns the lines for a blob event: the "Copying" text line
// when the blob first appears, then its pullProgress line if enabled.
func (j *JSONLines) blobReports(e Event) []PullReport {
	var out []PullReport
	if e.Kind == BlobStarted || (e.Kind == BlobSkipped && !j.started[e.Digest]) {
		out = append(out, j.copyingLines(e)...)
	}
	if j.opts.PullProgress {
		out = append(out, artifactReport(e))
	}
	return out
}

// copyingLines returns c/image's "Copying blob|config <digest>" line,
// preceded by "Getting image source signatures" for the copy's first blob
// (c/image prints it once per image, before any blob).
func (j *JSONLines) copyingLines(e Event) []PullReport {
	var out []PullReport
	if !j.sigs {
		j.sigs = true
		out = append(out, stream("Getting image source signatures\n"))
	}
	j.started[e.Digest] = true
	what := "blob"
	if e.Config {
		what = "config"
	}
	return append(out, stream("Copying "+what+" "+e.Digest.String()+"\n"))
}

// stream is a "pulling" line carrying text output.
func stream(text string) PullReport {
	return PullReport{Status: "pulling", Stream: text}
}

// artifactTexts are libpod's stream text and pullProgress status per event.
var artifactTexts = map[EventKind][2]string{
	BlobStarted:  {"Starting to pull artifact", "pulling"},
	BlobProgress: {"Pulling artifact", "pulling"},
	BlobDone:     {"Artifact pulled successfully", "success"},
	BlobSkipped:  {"Artifact already exists", "skipped"},
}

// artifactReport is the pullProgress line of a blob event, as libpod's
// reportPullProgress writes it.
func artifactReport(e Event) PullReport {
	t := artifactTexts[e.Kind]
	p := &ArtifactProgress{Status: t[1], ProgressComponentID: e.Digest.String()}
	if e.Kind != BlobSkipped {
		p.Current = uint64(max(e.Current, 0))
		p.Total = e.Total
		p.BytesCached = uint64(e.Cached())
	}
	return PullReport{Status: "pulling", Stream: t[0], Progress: p}
}

// doneReport is the final line of a successful pull.
func doneReport(e Event) PullReport {
	r := PullReport{Status: "success", Images: e.ImageIDs}
	if n := len(e.ImageIDs); n > 0 {
		r.ID = e.ImageIDs[n-1]
	}
	return r
}

// failedReport is the final line of a failed pull.
func failedReport(e Event) PullReport {
	return PullReport{
		Status:      "error",
		Error:       e.errorText(),
		ErrorKind:   e.ErrorKind,
		ErrorStatus: e.ErrorStatus,
	}
}
