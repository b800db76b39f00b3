package progress_test

import (
	"errors"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/progress"
)

// A pull rendered as the JSON lines of Podman's libpod pull endpoint. The
// engine calls Emit in order, one event at a time.
func ExampleNewJSONLines() {
	r := progress.NewJSONLines(os.Stdout, nil)
	layer := digest.Digest("sha256:8a1e25ce7c4f75e372e9884f8f7b1bedcfe4a7a7d452eb4b0a1c7477c9a90345")
	r.Emit(progress.Event{Kind: progress.TryingCandidate, Ref: "docker.io/library/alpine:latest"})
	r.Emit(progress.Event{Kind: progress.BlobStarted, Digest: layer, Total: 3623807})
	r.Emit(progress.Event{Kind: progress.BlobDone, Digest: layer, Current: 3623807, Total: 3623807})
	r.Emit(progress.Event{Kind: progress.ManifestWritten})
	r.Emit(progress.Event{
		Kind:        progress.Failed,
		Err:         errors.New("writing manifest: disk full"),
		ErrorKind:   "storage",
		ErrorStatus: 507,
	})
	// Output:
	// {"status":"pulling","stream":"Trying to pull docker.io/library/alpine:latest...\n"}
	// {"status":"pulling","stream":"Getting image source signatures\n"}
	// {"status":"pulling","stream":"Copying blob sha256:8a1e25ce7c4f75e372e9884f8f7b1bedcfe4a7a7d452eb4b0a1c7477c9a90345\n"}
	// {"status":"pulling","stream":"Writing manifest to image destination\n"}
	// {"status":"error","error":"writing manifest: disk full","errorKind":"storage","errorStatus":507}
}

// The same events with pullProgress, as libpod writes for ?pullProgress=true.
func ExampleJSONLinesOptions() {
	j := progress.NewJSONLines(os.Stdout, &progress.JSONLinesOptions{PullProgress: true})
	layer := digest.Digest("sha256:8a1e25ce7c4f75e372e9884f8f7b1bedcfe4a7a7d452eb4b0a1c7477c9a90345")
	j.Emit(progress.Event{Kind: progress.BlobProgress, Digest: layer, Current: 1048576, Total: 3623807})
	// Output:
	// {"status":"pulling","stream":"Pulling artifact","pullProgress":{"status":"pulling","current":1048576,"total":3623807,"progressComponentID":"sha256:8a1e25ce7c4f75e372e9884f8f7b1bedcfe4a7a7d452eb4b0a1c7477c9a90345"}}
}
