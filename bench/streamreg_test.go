package bench

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// genImage is an image whose layers are generated while they are served,
// never held in memory: the memory benchmarks pull gigabytes through it,
// and the enginetest registry keeps every blob in memory (a 1 GiB image
// would sit in the heap of the process being measured).
//
// Each layer is a tar of files of deterministic pseudo-random bytes
// (ChaCha8, incompressible), wrapped in gzip with stored blocks (level 0)
// so generating it costs far less than pulling it.
type genImage struct {
	layers   []*genLayer
	config   []byte
	manifest []byte
	digest   digest.Digest
	served   atomic.Int64 // blob bytes served
}

type genLayer struct {
	seed     uint64
	files    int
	fileSize int64
	digest   digest.Digest // of the gzip blob
	diffID   digest.Digest // of the tar
	size     int64         // of the gzip blob
}

// newGenImage describes an image of total bytes of file content in n
// layers of 4 files each, computing every digest by generating each layer
// once (in parallel), without keeping it.
func newGenImage(total int64, n int) (*genImage, error) {
	img := &genImage{}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		l := &genLayer{seed: uint64(i + 1), files: 4, fileSize: total / int64(n) / 4}
		img.layers = append(img.layers, l)
		wg.Go(func() {
			blob, diff := sha256.New(), sha256.New()
			cw := &countWriter{w: blob}
			errs[i] = l.write(cw, diff)
			l.digest = digest.NewDigest(digest.SHA256, blob)
			l.diffID = digest.NewDigest(digest.SHA256, diff)
			l.size = cw.n
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	type descriptor struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int64         `json:"size"`
	}
	diffIDs := make([]digest.Digest, n)
	layers := make([]descriptor, n)
	for i, l := range img.layers {
		diffIDs[i] = l.diffID
		layers[i] = descriptor{"application/vnd.oci.image.layer.v1.tar+gzip", l.digest, l.size}
	}
	var err error
	img.config, err = json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return nil, err
	}
	img.manifest, err = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor{"application/vnd.oci.image.config.v1+json", digest.FromBytes(img.config), int64(len(img.config))},
		"layers":        layers,
	})
	if err != nil {
		return nil, err
	}
	img.digest = digest.FromBytes(img.manifest)
	return img, nil
}

// streamPut streams the image's layers, served as repo by host, into a
// store (streamPut).
func (img *genImage) streamPut(host, repo string, verify bool) *streamPut {
	sp := &streamPut{host: host, repo: repo, verify: verify}
	for _, l := range img.layers {
		sp.blobs = append(sp.blobs, l.digest)
		sp.diffIDs = append(sp.diffIDs, l.diffID)
		sp.sizes = append(sp.sizes, l.size)
	}
	return sp
}

// size is the bytes a pull transfers: config and layer blobs.
func (img *genImage) size() int64 {
	n := int64(len(img.config))
	for _, l := range img.layers {
		n += l.size
	}
	return n
}

// write generates the layer's gzip blob into w, and its tar into diff when
// diff is not nil. The output depends only on the layer's fields.
func (l *genLayer) write(w io.Writer, diff hash.Hash) error {
	zw, err := gzip.NewWriterLevel(w, gzip.NoCompression)
	if err != nil {
		return err
	}
	var tarOut io.Writer = zw
	if diff != nil {
		tarOut = io.MultiWriter(zw, diff)
	}
	tw := tar.NewWriter(tarOut)
	buf := make([]byte, 256<<10)
	for f := range l.files {
		if err := tw.WriteHeader(&tar.Header{
			Name:     fmt.Sprintf("data/layer%d-file%d.bin", l.seed, f),
			Mode:     0o644,
			Size:     l.fileSize,
			Typeflag: tar.TypeReg,
			ModTime:  time.Unix(1700000000, 0),
			Format:   tar.FormatPAX,
		}); err != nil {
			return err
		}
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], l.seed)
		binary.LittleEndian.PutUint64(seed[8:], uint64(f))
		r := rand.NewChaCha8(seed)
		for left := l.fileSize; left > 0; {
			chunk := buf[:min(int64(len(buf)), left)]
			_, _ = r.Read(chunk)
			if _, err := tw.Write(chunk); err != nil {
				return err
			}
			left -= int64(len(chunk))
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// handler serves the image read-only as repository bench/big, tag v1, with
// the registry API a pull uses: ping, manifest HEAD/GET (by tag or
// digest), blob GET.
func (img *genImage) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		p := r.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(p, "/v2/bench/big/manifests/"):
			ref := strings.TrimPrefix(p, "/v2/bench/big/manifests/")
			if ref != "v1" && ref != img.digest.String() {
				notFound(w, "MANIFEST_UNKNOWN")
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", img.digest.String())
			w.Header().Set("Content-Length", fmt.Sprint(len(img.manifest)))
			if r.Method == http.MethodGet {
				_, _ = w.Write(img.manifest)
			}
		case strings.HasPrefix(p, "/v2/bench/big/blobs/"):
			d := digest.Digest(strings.TrimPrefix(p, "/v2/bench/big/blobs/"))
			img.serveBlob(w, r, d)
		default:
			notFound(w, "NAME_UNKNOWN")
		}
	})
}

func (img *genImage) serveBlob(w http.ResponseWriter, r *http.Request, d digest.Digest) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", d.String())
	if d == digest.FromBytes(img.config) {
		w.Header().Set("Content-Length", fmt.Sprint(len(img.config)))
		if r.Method == http.MethodGet {
			n, _ := w.Write(img.config)
			img.served.Add(int64(n))
		}
		return
	}
	for _, l := range img.layers {
		if l.digest != d {
			continue
		}
		w.Header().Set("Content-Length", fmt.Sprint(l.size))
		if r.Method == http.MethodGet {
			cw := &countWriter{w: w}
			_ = l.write(cw, nil)
			img.served.Add(cw.n)
		}
		return
	}
	notFound(w, "BLOB_UNKNOWN")
}

func notFound(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"not found"}]}`, code)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
