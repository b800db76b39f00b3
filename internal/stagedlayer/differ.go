package stagedlayer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tarstorage "github.com/vbatts/tar-split/tar/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// ErrDigestMismatch is wrapped by ApplyDiff's error when the blob's digest
// or its diff ID is not the expected one. Callers classify it as an
// integrity failure.
var ErrDigestMismatch = errors.New("layer digest mismatch")

// ErrUnsafePath is wrapped by ApplyDiff's error when an entry of the tar
// would be written outside the staging directory (through "..", an
// absolute name, a symlink or a hardlink). Callers classify it as an
// integrity failure.
var ErrUnsafePath = errors.New("layer entry escapes the layer root")

// ErrTooLarge is wrapped by ApplyDiff's error when the layer's tar grows
// beyond Layer.MaxUncompressed.
var ErrTooLarge = errors.New("layer exceeds its uncompressed size limit")

// Layer describes one layer blob to stage.
type Layer struct {
	// Body is the compressed blob as it arrives; the caller's reader
	// verifies sizes and limits of the compressed stream.
	Body io.Reader
	// Digest is the expected blob digest.
	Digest digest.Digest
	// DiffID is the expected digest of the uncompressed tar (the config's
	// rootfs.diff_ids entry).
	DiffID digest.Digest
	// MediaType is the layer's OCI or Docker media type: gzip, zstd or an
	// uncompressed tar.
	MediaType string
	// Progress, when set, is called as extraction proceeds with the number
	// of uncompressed bytes read so far. It must not block.
	Progress func(uncompressedBytes int64)
	// MaxUncompressed bounds the tar's size (a decompression bomb bound);
	// 0 means unlimited. Going beyond it is an error wrapping ErrTooLarge.
	MaxUncompressed int64
}

// NewDiffer returns the differ that stages l for Store.PrepareStagedLayer.
// Whatever PrepareStagedLayer returns, success or error, the caller ends
// the staging with Store.ApplyStagedLayer or Store.CleanupStagedLayer on
// the returned output (on error, only CleanupStagedLayer).
func NewDiffer(l Layer) graphdriver.Differ { return &differ{layer: l} }

// differ is the graphdriver.Differ of one Layer.
type differ struct{ layer Layer }

// Close releases nothing: ApplyDiff owns its resources for its duration.
func (d *differ) Close() error { return nil }

// ApplyDiff unpacks the layer into dest in one pass over Body and returns
// what ApplyStagedLayer records. See the package comment.
func (d *differ) ApplyDiff(dest string, options *archive.TarOptions, differOpts *graphdriver.DifferOptions) (out graphdriver.DriverWithDifferOutput, retErr error) {
	l := d.layer
	if err := l.check(); err != nil {
		return out, err
	}
	if options == nil {
		options = &archive.TarOptions{}
	}
	tsDir := ""
	if differOpts != nil {
		tsDir = differOpts.StagingDirectory
	}
	ts, err := newTarSplitFile(tsDir)
	if err != nil {
		return out, err
	}
	defer func() {
		if retErr != nil {
			ts.Close()
		}
	}()

	blobHash := l.Digest.Algorithm().Digester()
	blob := io.TeeReader(l.Body, blobHash.Hash())
	tarStream, err := decompress(l.MediaType, blob)
	if err != nil {
		return out, err
	}
	defer tarStream.Close()
	diffHash := l.DiffID.Algorithm().Digester()
	counted := &countingReader{r: tarStream, max: l.MaxUncompressed, progress: l.Progress}
	tsBuf := bufio.NewWriterSize(ts, 64<<10)
	payload, done, err := asm.NewInputTarStreamWithDone(io.TeeReader(counted, diffHash.Hash()), tarstorage.NewJSONPacker(tsBuf), &crcPutter{})
	if err != nil {
		return out, fmt.Errorf("reading layer %s: %w", l.Digest, err)
	}
	// The tar-split goroutine reads the stream and writes the tar-split;
	// it must be gone before either is closed and before Body, the
	// caller's, is let go.
	stopTarSplit := sync.OnceValue(func() error {
		payload.Close()
		return <-done
	})
	defer stopTarSplit() //nolint:errcheck // on success, checked below

	ids, err := unpack(payload, dest, options)
	if errors.Is(err, tarstorage.ErrDuplicatePath) {
		// Storage's tar-split cannot hold a name twice, and a second entry
		// replacing the first (a symlink by a directory) is how escapes
		// are usually tried.
		err = fmt.Errorf("%w: %w", ErrUnsafePath, err)
	}
	if err != nil {
		return out, fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
	}
	// The rest of the tar (its end padding belongs in the tar-split), then
	// the rest of the blob, so both digests cover every byte.
	if _, err := io.Copy(io.Discard, payload); err != nil {
		return out, fmt.Errorf("reading layer %s: %w", l.Digest, err)
	}
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return out, fmt.Errorf("reading layer %s: %w", l.Digest, err)
	}
	if err := stopTarSplit(); err != nil {
		return out, fmt.Errorf("recording tar-split of layer %s: %w", l.Digest, err)
	}
	if err := tsBuf.Flush(); err != nil {
		return out, fmt.Errorf("writing tar-split: %w", err)
	}
	counted.report()
	if got := blobHash.Digest(); got != l.Digest {
		return out, fmt.Errorf("layer blob has digest %s, want %s: %w", got, l.Digest, ErrDigestMismatch)
	}
	if got := diffHash.Digest(); got != l.DiffID {
		return out, fmt.Errorf("layer %s has diff ID %s, want %s: %w", l.Digest, got, l.DiffID, ErrDigestMismatch)
	}
	out.TarSplit = ts
	out.Size = counted.n
	out.UncompressedDigest = l.DiffID
	out.CompressedDigest = l.Digest
	out.UIDs, out.GIDs = ids.sorted()
	return out, nil
}

// check refuses a Layer ApplyDiff cannot verify.
func (l Layer) check() error {
	if l.Body == nil {
		return errors.New("stagedlayer: Layer.Body is nil")
	}
	for _, d := range []digest.Digest{l.Digest, l.DiffID} {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("stagedlayer: expected digest %q: %w", d, err)
		}
	}
	return nil
}

// newTarSplitFile creates the unlinked file the tar-split goes to, in dir
// (the staging directory, on the store's filesystem) or the default temp
// directory. Storage reads it from the start in ApplyStagedLayer and closes
// it there or in CleanupStagedLayer.
func newTarSplitFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "tar-split-")
	if err != nil {
		return nil, fmt.Errorf("creating tar-split file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("creating tar-split file: %w", err)
	}
	return f, nil
}
