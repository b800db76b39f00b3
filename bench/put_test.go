package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	"go.podman.io/storage"
)

// streamPut is the lower bound of a fast path that keeps storage's own
// layer records (BenchmarkColdFloor's "put" and "put-verify"): every layer's
// blob is streamed from the registry straight into store.PutLayer, in
// order, with the options copy.Image's storage destination passes (so the
// layer record is the one it would write), no temp file. With verify, a
// second goroutine per layer decompresses the same bytes to prove the
// diff ID and the blob digest before the stream ends (the only way to
// check them before storage records the layer, since storage trusts the
// digests it is given). No image record, manifest or config is written:
// it measures the layer work only.
type streamPut struct {
	host, repo string
	blobs      []digest.Digest
	diffIDs    []digest.Digest
	sizes      []int64
	verify     bool
}

func newStreamPut(b testing.TB, host, repo string, img v1.Image, verify bool) *streamPut {
	b.Helper()
	m, err := img.Manifest()
	if err != nil {
		b.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	sp := &streamPut{host: host, repo: repo, verify: verify}
	for i, l := range m.Layers {
		sp.blobs = append(sp.blobs, digest.Digest(l.Digest.String()))
		sp.sizes = append(sp.sizes, l.Size)
		sp.diffIDs = append(sp.diffIDs, digest.Digest(cf.RootFS.DiffIDs[i].String()))
	}
	return sp
}

// pull puts every layer into st, in order.
func (sp *streamPut) pull(ctx context.Context, st storage.Store) error {
	parent := ""
	for i, blob := range sp.blobs {
		id := chainID(parent, sp.diffIDs[i])
		if err := sp.putLayer(ctx, st, id, parent, i); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, blob, err)
		}
		parent = id
	}
	return nil
}

// chainID is the ID copy.Image's storage destination gives a layer with
// diffID on top of parent (a layer ID, "" for none).
func chainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// putLayer streams blob i into st as layer id on parent.
func (sp *streamPut) putLayer(ctx context.Context, st storage.Store, id, parent string, i int) error {
	rc, err := sp.get(ctx, i)
	if err != nil {
		return err
	}
	defer rc.Close()
	var body io.Reader = rc
	if sp.verify {
		v := newVerifier(sp.blobs[i], sp.diffIDs[i])
		defer v.abort()
		body = v.reader(rc)
	}
	size := sp.sizes[i]
	_, _, err = st.PutLayer(id, parent, nil, "", false, &storage.LayerOptions{
		OriginalDigest:     sp.blobs[i],
		OriginalSize:       &size,
		UncompressedDigest: sp.diffIDs[i],
	}, body)
	return err
}

// verifier checks a blob's digest and diff ID on the way: what storage
// reads passes through it and is copied to a goroutine that decompresses
// and hashes it; at the end of the blob, the reader answers io.EOF only if
// both digests match, else an error, so storage never records the layer.
type verifier struct {
	blob, diffID digest.Digest
	pw           *io.PipeWriter
	done         chan error
}

func newVerifier(blob, diffID digest.Digest) *verifier {
	pr, pw := io.Pipe()
	v := &verifier{blob: blob, diffID: diffID, pw: pw, done: make(chan error, 1)}
	go func() {
		v.done <- checkDiffID(pr, diffID)
		_, _ = io.Copy(io.Discard, pr) // unblock the writer on early failure
	}()
	return v
}

// checkDiffID decompresses r and compares the digest of the tar stream.
func checkDiffID(r io.Reader, want digest.Digest) error {
	zr, err := pgzip.NewReader(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	d := digest.Canonical.Digester()
	if _, err := io.Copy(d.Hash(), zr); err != nil {
		return err
	}
	if got := d.Digest(); got != want {
		return fmt.Errorf("diff ID %s, expected %s", got, want)
	}
	return nil
}

func (v *verifier) abort() { _ = v.pw.CloseWithError(errors.New("aborted")) }

func (v *verifier) reader(r io.Reader) io.Reader {
	return &verifyingReader{r: r, v: v, blobHash: digest.Canonical.Digester()}
}

type verifyingReader struct {
	r        io.Reader
	v        *verifier
	blobHash digest.Digester
	err      error
}

func (vr *verifyingReader) Read(p []byte) (int, error) {
	if vr.err != nil {
		return 0, vr.err
	}
	n, err := vr.r.Read(p)
	if n > 0 {
		vr.blobHash.Hash().Write(p[:n])
		if _, werr := vr.v.pw.Write(p[:n]); werr != nil {
			vr.err = werr
			return 0, werr
		}
	}
	if errors.Is(err, io.EOF) {
		_ = vr.v.pw.Close()
		if got := vr.blobHash.Digest(); got != vr.v.blob {
			vr.err = fmt.Errorf("blob digest %s, expected %s", got, vr.v.blob)
		} else if derr := <-vr.v.done; derr != nil {
			vr.err = derr
		} else {
			vr.err = io.EOF
		}
		return n, vr.err
	}
	return n, err
}

// get GETs blob i from the registry.
func (sp *streamPut) get(ctx context.Context, i int) (io.ReadCloser, error) {
	url := fmt.Sprintf("http://%s/v2/%s/blobs/%s", sp.host, sp.repo, sp.blobs[i])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}
