package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/opencontainers/go-digest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"github.com/pullengine/pullengine/internal/imagerecord"
	"github.com/pullengine/pullengine/internal/stagedlayer"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	graphdriver "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// layerStep is what the fast path does with one layer of the image.
type layerStep struct {
	info types.BlobInfo
	// diffID is the config's: verified by the differ for a layer fetched,
	// equal to the stored layer's for one reused.
	diffID digest.Digest
	// id is the layer ID copy.Image gives it: the chain of diff IDs.
	id string
	// stored: the store holds these contents already (found as
	// containers/image's storage destination finds them); nothing is
	// fetched.
	stored bool
	// staged is the layer unpacked in its staging directory, until applied.
	staged *graphdriver.DriverWithDifferOutput
}

// chainLayerID is the layer ID containers/image's storage destination
// gives a layer identified by its diff ID on top of parent (storage_dest.go
// layerID): the diff ID's hex for a base layer, else the digest of
// "parent+hex".
func chainLayerID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// storeLayers makes every layer of the image present in the store and
// returns the top layer's ID. The missing layers are staged in parallel;
// each is applied once it matched both its digests and every layer below
// it is in the store (containers/image's queueOrCommit order), so the
// layers of a pull that fails or is canceled half-way stay for a retry or
// a later pull, as copy.Image leaves them. A layer that failed leaves
// nothing, and every staging directory not applied is removed.
func (fp *fastPull) storeLayers(ctx context.Context) (string, error) {
	steps, err := fp.planLayers()
	if err != nil {
		return "", err
	}
	a := &applier{fp: fp, steps: steps}
	defer fp.cleanupStaged(steps)
	a.advance() // the stored layers at the bottom
	err = fp.stageAll(ctx, steps, a)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err != nil:
		return "", err
	case a.err != nil:
		return "", a.err
	case a.next < len(steps):
		return "", fmt.Errorf("internal error: layer %d of %d was not stored", a.next, len(steps))
	}
	return a.parent, nil
}

// applier applies the layers in order as they become ready.
type applier struct {
	fp    *fastPull
	steps []*layerStep

	mu     sync.Mutex
	next   int    // the first layer not applied
	parent string // the ID of the layer below next
	err    error  // a failure to apply: no later layer is applied
}

// staged records that s staged and verified, and applies what is ready.
func (a *applier) staged(s *layerStep, out *graphdriver.DriverWithDifferOutput) {
	a.mu.Lock()
	s.staged = out
	a.mu.Unlock()
	a.advance()
}

// advance applies every layer from next on that is ready: in the store
// already, or staged.
func (a *applier) advance() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.err == nil && a.next < len(a.steps) {
		s := a.steps[a.next]
		if !s.stored && s.staged == nil {
			return
		}
		if err := a.fp.apply(s, a.parent); err != nil {
			a.err = fmt.Errorf("storing layer %s: %w", s.info.Digest, pullerrors.Wrap(pullerrors.Storage, err))
			return
		}
		a.parent = s.id
		a.next++
	}
}

// planLayers gives each layer its ID and finds the layers the store
// already holds, as containers/image does (its storage destination's
// tryReusingBlobAsPending): a layer whose diff ID is the blob's digest, a
// layer made from the same blob, or a layer with the diff ID the blob-info
// cache recorded for the blob. A stored layer whose diff ID is not the
// config's is an Integrity error, as in copy.Image.
func (fp *fastPull) planLayers() ([]*layerStep, error) {
	steps := make([]*layerStep, len(fp.layers))
	parent := ""
	for i, info := range fp.layers {
		s := &layerStep{info: info, diffID: fp.diffIDs[i]}
		s.id = chainLayerID(parent, s.diffID)
		known, err := fp.storedDiffID(info.Digest)
		if err != nil {
			return nil, err
		}
		if known != "" {
			if known != s.diffID {
				return nil, pullerrors.Errorf(pullerrors.Integrity, "layer %d (blob %s) does not match config's DiffID %q", i, info.Digest, s.diffID)
			}
			s.stored = true
			fp.rep.Emit(progress.Event{Kind: progress.BlobSkipped, Ref: fp.ref, Digest: info.Digest, Total: info.Size})
		}
		steps[i] = s
		parent = s.id
	}
	return steps, nil
}

// storedDiffID returns the diff ID of the contents of blob d if the store
// holds a layer with them, else "".
func (fp *fastPull) storedDiffID(d digest.Digest) (digest.Digest, error) {
	store := fp.spec.e.store
	if ls, err := store.LayersByUncompressedDigest(d); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
		return "", pullerrors.Wrap(pullerrors.Storage, err)
	} else if len(ls) > 0 {
		return d, nil
	}
	if ls, err := store.LayersByCompressedDigest(d); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
		return "", pullerrors.Wrap(pullerrors.Storage, err)
	} else if len(ls) > 0 && ls[0].UncompressedDigest != "" {
		return ls[0].UncompressedDigest, nil
	}
	if u := fp.cache.UncompressedDigest(d); u != "" && u != d {
		if ls, err := store.LayersByUncompressedDigest(u); err == nil && len(ls) > 0 {
			return u, nil
		}
	}
	return "", nil
}

// parallelLayers is how many layers one pull stages at once:
// containers.conf image_parallel_copies (or Options.MaxParallelDownloads),
// else one per CPU (decompression and untar are CPU-bound), at least two
// so a slow download does not idle the CPU.
func (fp *fastPull) parallelLayers() int {
	if n := fp.spec.cfg.conf.parallelCopies; n > 0 {
		return int(n)
	}
	return max(runtime.NumCPU(), 2)
}

// stageAll stages the layers the store lacks, parallelLayers at a time,
// handing each to a as it succeeds. After a failure no further layer
// starts, those under way finish (their layers may still be applied), and
// the first failure is returned.
func (fp *fastPull) stageAll(ctx context.Context, steps []*layerStep, a *applier) error {
	prog := newStagingProgress(fp.rep, fp.ref)
	defer prog.stop()
	sem := make(chan struct{}, fp.parallelLayers())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	for _, s := range steps {
		if s.stored {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || failed() {
			break
		}
		wg.Go(func() {
			out, err := fp.stage(ctx, s, prog)
			// The slot is for staging: applying waits for the layers
			// below (and the driver probe), and the next layer must not
			// wait for that.
			<-sem
			if err == nil {
				a.staged(s, out)
				return
			}
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// stage streams one layer blob into a staging directory of its own.
func (fp *fastPull) stage(ctx context.Context, s *layerStep, prog *stagingProgress) (*graphdriver.DriverWithDifferOutput, error) {
	rc, err := fp.blobs.open(ctx, s.info, fp.cache)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	blob := prog.start(s.info, rc, fp.limits)
	defer prog.finish(blob)
	out, err := fp.spec.e.store.PrepareStagedLayer(nil, stagedlayer.NewDiffer(stagedlayer.Layer{
		Body: blob, Digest: s.info.Digest, DiffID: s.diffID, MediaType: s.info.MediaType,
		Progress: blob.unpacked, MaxUncompressed: fp.limits.perLayer(),
	}))
	if err != nil {
		if out != nil {
			_ = fp.spec.e.store.CleanupStagedLayer(out)
		}
		return nil, fp.stageError(s, err)
	}
	if out.CompressedDigest != s.info.Digest || out.UncompressedDigest != s.diffID {
		_ = fp.spec.e.store.CleanupStagedLayer(out)
		return nil, pullerrors.Errorf(pullerrors.Integrity, "layer %s: staged with digests %s and %s", s.info.Digest, out.CompressedDigest, out.UncompressedDigest)
	}
	if err := fp.limits.exceeded(); err != nil { // this layer's last bytes count
		_ = fp.spec.e.store.CleanupStagedLayer(out)
		return nil, err
	}
	// As containers/image records it after a download: later pulls of
	// the same blob find the layer by its diff ID.
	fp.cache.RecordDigestUncompressedPair(s.info.Digest, s.diffID)
	blob.done()
	return out, nil
}

// stageError classifies the failure to stage s: a digest mismatch or an
// entry escaping the layer is Integrity (an escape is not retried: the
// same blob escapes again), a layer past Limits is the limit's error, a
// bad kept partial makes any failure Integrity, and the rest of the
// differ's failures, which are not the network's or the disk's, are a
// corrupt blob (Integrity).
func (fp *fastPull) stageError(s *layerStep, err error) error {
	switch {
	case errors.Is(err, stagedlayer.ErrUnsafePath):
		return engineerr.Final(pullerrors.Wrap(pullerrors.Integrity, err))
	case errors.Is(err, stagedlayer.ErrDigestMismatch):
		return pullerrors.Wrap(pullerrors.Integrity, err)
	case errors.Is(err, stagedlayer.ErrTooLarge):
		return fp.limits.tooLarge(s.info.Digest)
	}
	err = fp.blobs.classify(err)
	if pullerrors.Classify(err) == pullerrors.Internal {
		return pullerrors.Wrap(pullerrors.Integrity, fmt.Errorf("layer %s: %w", s.info.Digest, err))
	}
	return err
}

// cleanupStaged removes the staging directories not applied.
func (fp *fastPull) cleanupStaged(steps []*layerStep) {
	for _, s := range steps {
		if s.staged != nil {
			_ = fp.spec.e.store.CleanupStagedLayer(s.staged)
			s.staged = nil
		}
	}
}

// apply makes layer s present under its ID on top of parent: already
// there (from an earlier pull, or another process just now), applied from
// its staging directory, or copied from a stored layer with its contents.
func (fp *fastPull) apply(s *layerStep, parent string) error {
	store := fp.spec.e.store
	if l, err := store.Layer(s.id); err == nil && l != nil {
		return nil
	}
	fp.spec.e.driverProbe.wait(fp.spec.e.store) // before any layer is created: see driverProbe
	if s.staged == nil {
		return fp.copyStoredLayer(s, parent)
	}
	stagingDir := filepath.Dir(s.staged.Target)
	_, err := store.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: s.id, ParentLayer: parent,
		DiffOutput: s.staged, DiffOptions: &graphdriver.ApplyDiffWithDifferOpts{},
	})
	switch {
	case errors.Is(err, storage.ErrDuplicateID):
		_ = store.CleanupStagedLayer(s.staged)
	case err != nil:
		return err
	default:
		// The overlay driver moves the layer out of its staging directory
		// and deletes the lock, but leaves the directory itself, empty,
		// until the store shuts down: a daemon would keep one per layer
		// pulled. Remove only removes it empty.
		_ = os.Remove(stagingDir)
	}
	s.staged = nil
	return nil
}

// copyStoredLayer creates layer s from a stored layer with the same
// contents under another parent, as containers/image's storage
// destination does (createNewLayer): the stored layer's diff, through a
// temporary file (Diff holds a lock PutLayer needs), into PutLayer, with
// the blob digest and size recorded only when the stored layer has them.
func (fp *fastPull) copyStoredLayer(s *layerStep, parent string) error {
	store := fp.spec.e.store
	src := firstLayer(store.LayersByUncompressedDigest(s.diffID))
	if src == nil {
		src = firstLayer(store.LayersByCompressedDigest(s.info.Digest))
	}
	if src == nil {
		return fmt.Errorf("layer for blob %s not found", s.info.Digest)
	}
	tmp, err := os.CreateTemp(fp.spec.sys.BigFilesTemporaryDir, "layer-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	diff, err := store.Diff("", src.ID, &storage.DiffOptions{Compression: ptrTo(archive.Uncompressed)})
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", src.ID, err)
	}
	_, err = io.Copy(tmp, diff)
	diff.Close()
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	opts := &storage.LayerOptions{OriginalDigest: s.diffID, UncompressedDigest: s.diffID}
	if src.CompressedDigest == s.info.Digest && src.CompressedSize > 0 {
		opts.OriginalDigest, opts.OriginalSize = s.info.Digest, ptrTo(src.CompressedSize)
	}
	_, _, err = store.PutLayer(s.id, parent, nil, "", false, opts, tmp)
	if err != nil && !errors.Is(err, storage.ErrDuplicateID) {
		return err
	}
	return nil
}

// firstLayer is the first of a layer lookup's results, nil for none.
func firstLayer(ls []storage.Layer, err error) *storage.Layer {
	if err != nil || len(ls) == 0 {
		return nil
	}
	return &ls[0]
}

func ptrTo[T any](v T) *T { return &v }

// writeRecord writes the image record on top layer top and returns the
// image ID.
func (fp *fastPull) writeRecord(top string) (string, error) {
	img, err := imagerecord.Write(fp.spec.e.store, imagerecord.Record{
		ID: fp.configInfo.Digest.Encoded(), TopLayer: top, Name: fp.named.String(),
		Manifest: fp.manifest, ManifestDigest: fp.manifestDigest, TopLevel: fp.top,
		Config: fp.config, ConfigDigest: fp.configInfo.Digest,
		Signatures: fp.signatures, Created: fp.created,
	})
	if err != nil {
		return "", pullerrors.Wrap(pullerrors.Storage, err)
	}
	return img.ID, nil
}
