package httpapi

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/transports/alltransports"
	"golang.org/x/sys/unix"
)

// Issue 22, items 1 to 4: local sources through the handler, attacked the
// way the red team did, against a real store and real archives.

// hostileLocal is a handler allowing one directory, with the good image's
// sources in it, another image's sources outside, and a hook run between
// the check (and private copy) of a local source and the pull.
type hostileLocal struct {
	*env
	allowed, outside, elsewhere string
	goodID, otherID             string
	swap                        func() // run by the hook once, then cleared
}

func newHostileLocal(t *testing.T, ho Options, eo ...enginetest.EngineOption) *hostileLocal {
	t.Helper()
	h := &hostileLocal{allowed: t.TempDir(), outside: t.TempDir(), elsewhere: t.TempDir()}
	good := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 64<<10))
	other := enginetest.NewImage(t, enginetest.WithRandomLayer(t, 48<<10))
	h.goodID, h.otherID = enginetest.ID(t, good), enginetest.ID(t, other)
	enginetest.WriteOCIArchive(t, filepath.Join(h.allowed, "app.oci.tar"), good, nil)
	enginetest.WriteDockerArchive(t, filepath.Join(h.allowed, "app.docker.tar"), good, "localhost/app:1")
	enginetest.WriteOCILayout(t, filepath.Join(h.allowed, "layout"), good, nil)
	enginetest.WriteOCIArchive(t, filepath.Join(h.outside, "other.oci.tar"), other, nil)
	enginetest.WriteDockerArchive(t, filepath.Join(h.outside, "other.docker.tar"), other, "localhost/other:1")
	enginetest.WriteOCILayout(t, filepath.Join(h.outside, "layout"), other, nil)
	ho.AllowedPaths = []string{h.allowed}
	var once sync.Mutex
	h.env = newEnv(t, withHandlerOptions(ho), withEngineOptions(eo...), func(c *envConfig) {
		c.onLocal = func() {
			once.Lock()
			defer once.Unlock()
			if h.swap != nil {
				h.swap()
				h.swap = nil
			}
		}
	})
	return h
}

// images are the IDs of the images in the store.
func (h *hostileLocal) images(t *testing.T) []string {
	t.Helper()
	imgs, err := h.e.Store().Images()
	must(t, err)
	var ids []string
	for _, img := range imgs {
		ids = append(ids, img.ID)
	}
	return ids
}

// noLeftovers fails if a private copy is left in the Engine's temporary
// directory.
func (h *hostileLocal) noLeftovers(t *testing.T) {
	t.Helper()
	if h.e.TempDir() == "" {
		t.Fatal("the engine has no private temporary directory")
	}
	left, _ := filepath.Glob(filepath.Join(h.e.TempDir(), "localsource-*"))
	if len(left) != 0 {
		t.Errorf("private copies left behind: %v", left)
	}
}

// writeLinkArchive writes an oci-archive holding the entries of src, then
// a symlink x -> target and a file x/pwn: extracted naively, pwn lands in
// target.
func writeLinkArchive(t *testing.T, src, dst, target string) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	must(t, err)
	defer out.Close()
	tw := tar.NewWriter(out)
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		must(t, tw.WriteHeader(hdr))
		_, err = io.Copy(tw, tr)
		must(t, err)
	}
	must(t, tw.WriteHeader(&tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}))
	must(t, tw.WriteHeader(&tar.Header{Name: "x/pwn", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}))
	_, err = tw.Write([]byte("pwn"))
	must(t, err)
	must(t, tw.Close())
}

// Item 1: a source swapped after the check (between the private copy and
// the pull, from the handler's hook) is not read: the checked image is
// pulled, nothing is written outside, the other image is not stored.
func TestLocalSourceSwappedAfterCheck(t *testing.T) {
	h := newHostileLocal(t, Options{})
	evil := filepath.Join(h.outside, "evil.oci.tar")
	writeLinkArchive(t, filepath.Join(h.allowed, "app.oci.tar"), evil, h.elsewhere)
	// Each case swaps its own copy of the good archive.
	for _, name := range []string{"renamed.oci.tar", "linked.oci.tar"} {
		b, err := os.ReadFile(filepath.Join(h.allowed, "app.oci.tar"))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(h.allowed, name), b, 0o644))
	}
	replaceWithLink := func(path, target string) func() {
		return func() {
			must(t, os.RemoveAll(path))
			must(t, os.Symlink(target, path))
		}
	}
	for _, c := range []struct {
		name, ref string
		swap      func()
	}{
		{"archive renamed over", "oci-archive:" + filepath.Join(h.allowed, "renamed.oci.tar"), func() {
			must(t, os.Rename(evil, filepath.Join(h.allowed, "renamed.oci.tar")))
		}},
		{"archive replaced by a link out", "oci-archive:" + filepath.Join(h.allowed, "linked.oci.tar"),
			replaceWithLink(filepath.Join(h.allowed, "linked.oci.tar"), filepath.Join(h.outside, "other.oci.tar"))},
		{"docker-archive replaced by a link out", "docker-archive:" + filepath.Join(h.allowed, "app.docker.tar"),
			replaceWithLink(filepath.Join(h.allowed, "app.docker.tar"), filepath.Join(h.outside, "other.docker.tar"))},
		{"layout replaced by a link out", "oci:" + filepath.Join(h.allowed, "layout"),
			replaceWithLink(filepath.Join(h.allowed, "layout"), filepath.Join(h.outside, "layout"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Each case stores the image anew, so that storedAs sees what
			// this pull stored.
			must(t, h.e.Store().Wipe())
			want := manifestDigest(t, c.ref) // before the swap: the checked source's
			swapped := false
			h.swap = func() { c.swap(); swapped = true }
			lines := h.pull(t, q("reference", c.ref, "policy", "always", "retry", "2", "retryDelay", "1ms"), nil).lines(t)
			if !swapped {
				t.Fatal("the hook did not run")
			}
			last := lines[len(lines)-1]
			if last.ID != h.goodID {
				t.Errorf("pulled %q (%s), want the checked image %s", last.ID, last.Error, h.goodID)
			}
			for _, id := range h.images(t) {
				if id == h.otherID {
					t.Error("the image outside the allowed directory was stored")
				}
			}
			h.storedAs(t, h.goodID, want)
			if _, err := os.Stat(filepath.Join(h.elsewhere, "pwn")); err == nil {
				t.Error("the swapped archive wrote outside its extraction directory")
			}
			h.noLeftovers(t)
		})
	}
}

// Item 2: a symlink to "DIR/b:" where DIR/b leads outside is refused with
// 403: the transport would split at ':' and read DIR/b.
func TestLocalSourceColonInResolvedPath(t *testing.T) {
	h := newHostileLocal(t, Options{})
	must(t, os.Mkdir(filepath.Join(h.allowed, "b:"), 0o755))
	must(t, os.Symlink(filepath.Join(h.outside, "layout"), filepath.Join(h.allowed, "b")))
	must(t, os.Symlink(filepath.Join(h.allowed, "b:"), filepath.Join(h.allowed, "link")))
	m := h.pull(t, q("reference", "oci:"+filepath.Join(h.allowed, "link"), "policy", "always"), nil).errorBody(t, http.StatusForbidden)
	if !strings.Contains(m.Message, "':'") {
		t.Errorf("message %q does not say why", m.Message)
	}
	if ids := h.images(t); len(ids) != 0 {
		t.Errorf("stored %v", ids)
	}
}

// Item 3: FIFOs, devices, sockets and links out, as the source or inside a
// layout or dir:, get a fast 4xx; 34 FIFO requests leave no slot taken.
func TestLocalSourceSpecialFiles(t *testing.T) {
	h := newHostileLocal(t, Options{MaxConcurrentPulls: 32})
	a := h.allowed
	must(t, unix.Mkfifo(filepath.Join(a, "fifo.tar"), 0o600))
	must(t, unix.Mknod(filepath.Join(a, "null.tar"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	l, err := net.Listen("unix", filepath.Join(a, "sock.tar"))
	must(t, err)
	defer l.Close()
	// Layouts with one bad entry each.
	blobs := func(dir string) string {
		entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		must(t, err)
		return filepath.Join(dir, "blobs", "sha256", entries[0].Name())
	}
	bad := map[string]func(dir string){
		"fifo-blob": func(dir string) { b := blobs(dir); must(t, os.Remove(b)); must(t, unix.Mkfifo(b, 0o600)) },
		"link-index": func(dir string) {
			must(t, os.Remove(filepath.Join(dir, "index.json")))
			must(t, os.Symlink(filepath.Join(h.outside, "layout", "index.json"), filepath.Join(dir, "index.json")))
		},
		"device-blob": func(dir string) {
			b := blobs(dir)
			must(t, os.Remove(b))
			must(t, unix.Mknod(b, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
		},
	}
	for name, spoil := range bad {
		dir := filepath.Join(a, name)
		must(t, os.CopyFS(dir, os.DirFS(filepath.Join(a, "layout"))))
		spoil(dir)
	}
	for _, c := range []struct {
		ref    string
		status int
		says   string
	}{
		{"oci-archive:" + filepath.Join(a, "fifo.tar"), http.StatusBadRequest, "is a FIFO"},
		{"docker-archive:" + filepath.Join(a, "fifo.tar"), http.StatusBadRequest, "is a FIFO"},
		{"oci-archive:" + filepath.Join(a, "null.tar"), http.StatusBadRequest, "is a device"},
		{"docker-archive:" + filepath.Join(a, "sock.tar"), http.StatusBadRequest, "is a socket"},
		{"oci:" + filepath.Join(a, "fifo.tar"), http.StatusBadRequest, "is a FIFO"},
		{"oci:" + filepath.Join(a, "fifo-blob"), http.StatusBadRequest, "is a FIFO"},
		{"dir:" + filepath.Join(a, "fifo-blob"), http.StatusBadRequest, "is a FIFO"},
		{"oci:" + filepath.Join(a, "device-blob"), http.StatusBadRequest, "is a device"},
		{"oci:" + filepath.Join(a, "link-index"), http.StatusBadRequest, "index.json is a symlink"},
	} {
		t.Run(c.ref, func(t *testing.T) {
			m := h.pull(t, q("reference", c.ref, "policy", "always"), nil).errorBody(t, c.status)
			if !strings.Contains(m.Message, c.says) {
				t.Errorf("message %q does not say %q", m.Message, c.says)
			}
		})
	}
	// 34 FIFO requests at once: each answered, no slot kept.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a guard against a hang, not a timing assertion
	defer cancel()
	var wg sync.WaitGroup
	statuses := make(chan int, 34)
	for range 34 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v5.8.0/libpod/images/pull?"+q("reference", "oci-archive:"+filepath.Join(a, "fifo.tar")).Encode(), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("FIFO request: %v", err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusBadRequest && s != http.StatusTooManyRequests {
			t.Errorf("a FIFO request got %d", s)
		}
	}
	lines := h.pull(t, q("reference", "oci-archive:"+filepath.Join(a, "app.oci.tar"), "policy", "always"), nil).lines(t)
	if last := lines[len(lines)-1]; last.ID != h.goodID {
		t.Errorf("the good archive after the FIFOs: %+v", last)
	}
	if ids := h.images(t); len(ids) != 1 {
		t.Errorf("stored %v, want the good image only", ids)
	}
	h.noLeftovers(t)
}

// Item 4: a source past the copy budget, an oci-archive whose entries
// unpack past the image limit, and a layout blob grown past its declared
// size are refused; nothing is stored or left in tmp.
func TestLocalSourceBounded(t *testing.T) {
	h := newHostileLocal(t, Options{MaxLocalSourceBytes: 1 << 20}, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Limits = engine.Limits{MaxImageSize: 4 << 20}
	}))
	a := h.allowed
	// A gzip bomb: 64 MiB of zeros, compressed, as a docker-archive.
	bomb := filepath.Join(a, "bomb.tar.gz")
	writeGzipZeros(t, bomb, 64<<20)
	m := h.pull(t, q("reference", "docker-archive:"+bomb, "policy", "always"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "larger than the 1048576 bytes") {
		t.Errorf("bomb: %q", m.Message)
	}
	// A sparse archive: a 1 GiB entry of holes, a few blocks on disk.
	sparse := filepath.Join(a, "sparse.oci.tar")
	writeSparseArchive(t, sparse, 1<<30)
	m = h.pull(t, q("reference", "oci-archive:"+sparse, "policy", "always"), nil).errorBody(t, http.StatusBadRequest)
	if !strings.Contains(m.Message, "larger than the 1048576 bytes") {
		t.Errorf("sparse: %q", m.Message)
	}
	// A layer blob with bytes appended past its declared size (hard-linked
	// into the private copy, so it is read as it is).
	grown := filepath.Join(a, "grown")
	must(t, os.CopyFS(grown, os.DirFS(filepath.Join(a, "layout"))))
	growLargestBlob(t, grown, 2<<20)
	grownAnswer := h.pull(t, q("reference", "oci:"+grown, "policy", "always"), nil)
	var grownMsg string
	if grownAnswer.status == http.StatusOK {
		lines := grownAnswer.lines(t)
		grownMsg = lines[len(lines)-1].Error
	} else {
		grownMsg = grownAnswer.errorBody(t, http.StatusBadGateway).Message
	}
	// A local file is not a registry: the message says which sent the blob.
	if !strings.Contains(grownMsg, "the source announced") || !strings.Contains(grownMsg, "declared as") || strings.Contains(grownMsg, "registry") {
		t.Errorf("grown blob: %q", grownMsg)
	}
	if ids := h.images(t); len(ids) != 0 {
		t.Errorf("stored %v", ids)
	}
	h.noLeftovers(t)
}

// writeGzipZeros writes n zero bytes, gzip-compressed, to path.
func writeGzipZeros(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	zw := gzip.NewWriter(f)
	_, err = io.CopyN(zw, zeros{}, n)
	must(t, err)
	must(t, zw.Close())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// writeSparseArchive writes a tar whose one entry is size bytes of holes.
func writeSparseArchive(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	must(t, tw.WriteHeader(&tar.Header{Name: "blobs/sha256/big", Typeflag: tar.TypeReg, Size: size, Mode: 0o644}))
	must(t, f.Truncate(512+size+1024)) // the body and the end blocks, as holes
}

// growLargestBlob appends n bytes to the largest blob of the layout dir.
func growLargestBlob(t *testing.T, dir string, n int64) {
	t.Helper()
	f, err := os.OpenFile(largestBlob(t, dir), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	defer f.Close()
	_, err = io.CopyN(f, zeros{}, n)
	must(t, err)
}

// A private copy lives in the Engine's locked temporary directory, so the
// copies of a killed server are removed when the next one starts, as the
// Engine's own leftovers are; links planted in the store's tmp are never
// followed by that clean-up.
func TestLocalSourceStaleCopiesCleaned(t *testing.T) {
	victim := t.TempDir()
	must(t, os.Mkdir(filepath.Join(victim, "localsource-1"), 0o700))
	must(t, os.WriteFile(filepath.Join(victim, "keep"), []byte("keep"), 0o600))
	var base, killed string
	h := newHostileLocal(t, Options{}, enginetest.WithEngineOptions(func(o *engine.Options) {
		// serve's default: the store's tmp.
		o.SystemContext.BigFilesTemporaryDir = ""
		base = filepath.Join(o.RootDir, "tmp")
		// What a killed server leaves: its Engine's directory, unlocked,
		// holding a private copy (with a link out in it).
		killed = filepath.Join(base, "pullengine-killed")
		copyDir := filepath.Join(killed, "localsource-123", "layout")
		must(t, os.MkdirAll(copyDir, 0o700))
		must(t, os.WriteFile(filepath.Join(killed, ".owner.lock"), nil, 0o600))
		must(t, os.WriteFile(filepath.Join(copyDir, "index.json"), []byte("{}"), 0o600))
		must(t, os.Symlink(victim, filepath.Join(copyDir, "out")))
		// Links named like an Engine's directory and like a copy.
		must(t, os.Symlink(victim, filepath.Join(base, "pullengine-link")))
		must(t, os.Symlink(victim, filepath.Join(base, "localsource-link")))
	}))
	if _, err := os.Lstat(killed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed server's directory is still there: %v", err)
	}
	entries, err := os.ReadDir(victim)
	must(t, err)
	if len(entries) != 2 || entries[0].Name() != "keep" || entries[1].Name() != "localsource-1" {
		t.Errorf("the victim directory changed: %v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(victim, "keep")); err != nil || string(b) != "keep" {
		t.Errorf("the victim file changed: %q %v", b, err)
	}
	if filepath.Dir(h.e.TempDir()) != base {
		t.Fatalf("the engine's directory %s is not in the store's tmp %s", h.e.TempDir(), base)
	}
	var during []string
	h.swap = func() { during, _ = filepath.Glob(filepath.Join(h.e.TempDir(), "localsource-*")) }
	lines := h.pull(t, q("reference", "oci:"+filepath.Join(h.allowed, "layout"), "policy", "always"), nil).lines(t)
	if last := lines[len(lines)-1]; last.ID != h.goodID {
		t.Errorf("pulled %+v", last)
	}
	if len(during) != 1 {
		t.Errorf("private copies in the engine's directory during the pull: %v, want one", during)
	}
	h.noLeftovers(t)
}

// Failing local pulls name the path the client asked for, never the
// private copy the engine read: in the error body (stream, quiet and
// compat modes), the error's cause, and the server's pull log line.
func TestLocalSourceErrorsNameClientPath(t *testing.T) {
	h := newHostileLocal(t, Options{})
	a := h.allowed
	// A layout missing a blob: containers/image fails opening it by path.
	broken := filepath.Join(a, "broken")
	must(t, os.CopyFS(broken, os.DirFS(filepath.Join(a, "layout"))))
	blobs, err := os.ReadDir(filepath.Join(broken, "blobs", "sha256"))
	must(t, err)
	for _, b := range blobs {
		must(t, os.Remove(filepath.Join(broken, "blobs", "sha256", b.Name())))
	}
	brokenArchive := filepath.Join(a, "broken.oci.tar")
	must(t, os.WriteFile(brokenArchive, []byte("not a tar"), 0o644))
	for _, c := range []struct{ ref, path string }{
		{"oci:" + broken, broken},
		{"oci:" + filepath.Join(a, "layout") + ":nosuchref", filepath.Join(a, "layout")},
		{"oci-archive:" + brokenArchive, brokenArchive},
		{"docker-archive:" + filepath.Join(a, "app.docker.tar") + ":@7", filepath.Join(a, "app.docker.tar")},
	} {
		for _, mode := range []string{"stream", "quiet", "compat"} {
			t.Run(c.ref+"/"+mode, func(t *testing.T) {
				query := q("reference", c.ref, "policy", "always")
				switch mode {
				case "quiet":
					query.Set("quiet", "true")
				case "compat":
					query.Set("compatMode", "true")
				}
				ans := h.pull(t, query, nil)
				var texts []string
				switch {
				case ans.status == http.StatusOK:
					lines := ans.lines(t)
					texts = append(texts, lines[len(lines)-1].Error)
				case mode == "compat":
					texts = append(texts, ans.compatErrorBody(t, ans.status))
				default:
					m := ans.errorBody(t, ans.status)
					texts = append(texts, m.Message, m.Because)
				}
				t.Logf("%d %q", ans.status, texts)
				// compat mode answers the root cause alone, which may
				// name no path.
				if mode != "compat" && !strings.Contains(texts[0], c.path) {
					t.Errorf("the error does not name %s: %q", c.path, texts[0])
				}
				for _, s := range texts {
					if strings.Contains(s, "localsource-") || strings.Contains(s, "/proc/self/fd/") {
						t.Errorf("the error names the private copy: %q", s)
					}
				}
			})
		}
	}
	// The handler's line for each pull (the engine's own debug lines are
	// the operator's and may name the copy).
	for line := range strings.Lines(h.logs.String()) {
		if strings.Contains(line, "msg=pull ") && (strings.Contains(line, "localsource-") || strings.Contains(line, "/proc/self/fd/")) {
			t.Errorf("the server's pull line names the private copy: %s", line)
		}
	}
	if ids := h.images(t); len(ids) != 0 {
		t.Errorf("stored %v", ids)
	}
	h.noLeftovers(t)
}

// retryHook is a log handler that runs onRetry, in the pulling goroutine,
// when the engine logs that it will retry: after the failed attempt, before
// the next one.
type retryHook struct {
	slog.Handler
	onRetry func()
}

func (h retryHook) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "retrying after a transient error" { // engine.retryLogMessage
		h.onRetry()
	}
	return h.Handler.Handle(ctx, r)
}

func (h retryHook) WithAttrs(a []slog.Attr) slog.Handler {
	return retryHook{h.Handler.WithAttrs(a), h.onRetry}
}

func (h retryHook) WithGroup(name string) slog.Handler {
	return retryHook{h.Handler.WithGroup(name), h.onRetry}
}

// A local source cut short (an oci-archive, a layout's layer) is not a
// registry outage: the pull fails with Integrity (502), its message names
// the client's path, neither a registry nor the private copy, after one
// attempt: the engine never logs a retry, so the client's source cannot
// be swapped between attempts either. Nothing is stored or left behind.
func TestLocalSourceCorrupt(t *testing.T) {
	retries := 0
	h := newHostileLocal(t, Options{}, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.Logger = slog.New(retryHook{Handler: o.Logger.Handler(), onRetry: func() { retries++ }})
	}))
	archive := filepath.Join(h.allowed, "cut.oci.tar")
	b, err := os.ReadFile(filepath.Join(h.allowed, "app.oci.tar"))
	must(t, err)
	must(t, os.WriteFile(archive, b[:len(b)/2], 0o644))
	layout := filepath.Join(h.allowed, "cut")
	must(t, os.CopyFS(layout, os.DirFS(filepath.Join(h.allowed, "layout"))))
	layer := largestBlob(t, layout)
	fi, err := os.Stat(layer)
	must(t, err)
	must(t, os.Truncate(layer, fi.Size()/2))
	for _, c := range []struct{ ref, path string }{
		{"oci-archive:" + archive, archive},
		{"oci:" + layout, layout},
	} {
		for _, quiet := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/quiet=%v", c.ref, quiet), func(t *testing.T) {
				retries = 0
				query := q("reference", c.ref, "policy", "always", "retry", "2", "retryDelay", "1ms")
				if quiet {
					query.Set("quiet", "true")
				}
				// A failure before the first event is answered with its
				// status; after it, in the stream's last line.
				var msg string
				if ans := h.pull(t, query, nil); quiet || ans.status != http.StatusOK {
					msg = ans.errorBody(t, http.StatusBadGateway).Message
				} else {
					lines := ans.lines(t)
					last := lines[len(lines)-1]
					if last.ErrorKind != pullerrors.Integrity.String() || last.ErrorStatus != http.StatusBadGateway {
						t.Errorf("kind %q status %d, want integrity 502: %s", last.ErrorKind, last.ErrorStatus, last.Error)
					}
					msg = last.Error
				}
				t.Log(msg)
				if !strings.Contains(msg, c.path) || !strings.Contains(msg, "corrupt or truncated") {
					t.Errorf("the message does not say %s is corrupt or truncated: %q", c.path, msg)
				}
				if strings.Contains(strings.ToLower(msg), "registry") || strings.Contains(msg, "localsource-") || strings.Contains(msg, "/proc/self/fd/") {
					t.Errorf("the message names a registry or the private copy: %q", msg)
				}
				if retries != 0 {
					t.Errorf("%d retries, want one attempt", retries)
				}
			})
		}
	}
	if ids := h.images(t); len(ids) != 0 {
		t.Errorf("stored %v", ids)
	}
	layers, err := h.e.Store().Layers()
	must(t, err)
	if len(layers) != 0 {
		t.Errorf("%d layers stored", len(layers))
	}
	h.noLeftovers(t)
}

// storedAs fails unless the image stored as id holds the manifest whose
// digest is want: an image pulled by ID is stored under the ID the engine
// read first, whatever a later read returned, so the ID alone proves
// nothing.
func (h *hostileLocal) storedAs(t *testing.T, id string, want digest.Digest) {
	t.Helper()
	stored, err := h.e.Store().Image(id)
	must(t, err)
	if stored.Digest != want {
		t.Errorf("image %s holds manifest %s, want the checked source's %s", id, stored.Digest, want)
	}
}

// manifestDigest is the digest of the manifest containers/image reads
// from the source ref (for a docker-archive, the one it makes).
func manifestDigest(t *testing.T, ref string) digest.Digest {
	t.Helper()
	r, err := alltransports.ParseImageName(ref)
	must(t, err)
	src, err := r.NewImageSource(context.Background(), nil)
	must(t, err)
	defer src.Close()
	raw, _, err := src.GetManifest(context.Background(), nil)
	must(t, err)
	d, err := manifest.Digest(raw)
	must(t, err)
	return d
}

// largestBlob is the path of the largest blob of the layout dir.
func largestBlob(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	must(t, err)
	var largest string
	var size int64 = -1
	for _, e := range entries {
		fi, err := e.Info()
		must(t, err)
		if fi.Size() > size {
			largest, size = filepath.Join(dir, "blobs", "sha256", e.Name()), fi.Size()
		}
	}
	return largest
}
