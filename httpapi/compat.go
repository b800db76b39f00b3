package httpapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/pullengine/pullengine/progress"
)

// compatMessage is one line of ?compatMode=true: Docker's JSON message, as
// libpod's CompatPull writes it (progressDetail is always present).
type compatMessage struct {
	Status   string          `json:"status,omitempty"`
	Progress *compatProgress `json:"progressDetail,omitempty"`
	ID       string          `json:"id,omitempty"`
	Error    *compatError    `json:"errorDetail,omitempty"`
	// ErrorMessage is Docker's deprecated "error" field, still read by
	// clients such as docker-py.
	ErrorMessage string `json:"error,omitempty"`
}

type compatProgress struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

type compatError struct {
	Message string `json:"message,omitempty"`
}

// compatErrorBody is the whole answer of a compat pull that failed before
// any progress: Docker's error body.
type compatErrorBody struct {
	Message string `json:"message"`
}

// compatStream is a progress.Sink writing compat-mode lines:
//
//	BlobStarted   {"status":"Pulling fs layer","progressDetail":{},"id":"<12 hex>"}
//	BlobProgress  {"status":"Downloading","progressDetail":{"current":N,"total":T},"id":...}
//	BlobSkipped   {"status":"Already exists","progressDetail":{},"id":...}
//	BlobDone      {"status":"Download complete","progressDetail":{},"id":...}
//	Done          {"status":"Download complete","progressDetail":{},"id":"<image ID, 12 hex>"}
//	Failed        {"progressDetail":{},"errorDetail":{"message":...},"error":...}
//
// Other events write nothing. The "progress" bar text Docker added for old
// API versions is left out.
type compatStream struct {
	w   io.Writer
	enc *json.Encoder
	err error
}

func newCompatStream(w io.Writer) *compatStream {
	return &compatStream{w: w, enc: json.NewEncoder(w)}
}

var compatStatuses = map[progress.EventKind]string{
	progress.BlobStarted:  "Pulling fs layer",
	progress.BlobProgress: "Downloading",
	progress.BlobSkipped:  "Already exists",
	progress.BlobDone:     "Download complete",
}

// Emit writes the line of e, if it has one.
func (c *compatStream) Emit(e progress.Event) {
	m := compatMessage{Progress: &compatProgress{}}
	switch e.Kind {
	case progress.BlobStarted, progress.BlobProgress, progress.BlobSkipped, progress.BlobDone:
		m.Status = compatStatuses[e.Kind]
		m.ID = shortHex(e.Digest.Encoded())
		if e.Kind == progress.BlobProgress {
			m.Progress = &compatProgress{Current: e.Current, Total: e.Total}
		}
	case progress.Done:
		m.Status = "Download complete"
		if len(e.ImageIDs) > 0 {
			m.ID = shortHex(e.ImageIDs[0])
		}
	case progress.Failed:
		msg := "pull failed"
		if e.Err != nil {
			msg = message(e.Err)
		}
		m.Error = &compatError{Message: msg}
		m.ErrorMessage = msg
	default:
		return
	}
	if c.err != nil {
		return
	}
	if c.err = c.enc.Encode(m); c.err == nil {
		if w, ok := c.w.(http.ResponseWriter); ok {
			_ = http.NewResponseController(w).Flush()
		}
	}
}

// shortHex is the 12-character short form of a digest's hex or an ID.
func shortHex(hex string) string {
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}
