package httpapi

// Local sources.
//
// Like libpod, the handler pulls registry names (and image IDs) only: a
// remote client has no business reading the server's files. An operator
// may open local transports to directories it names (Options.AllowedPaths):
// oci:, oci-archive:, dir: and docker-archive: references are accepted when
// their path, with symlinks and ".." resolved, lies in one of them; others
// are refused with 403. An accepted source is then opened once, beneath
// the allowed directory with no symlink on the way, and the engine reads a
// private copy of it (internal/localsource): what is read is what was
// checked, however the path changes during the pull.
// containers-storage: references are accepted for the stores the operator
// names (engine.Options.AllowedStores), as "[driver@graphroot]name" only, and
// without a store specification (the engine's own store). docker-daemon:
// is never accepted: it would hand every image of the host's Docker daemon
// to the client.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pullengine/pullengine/internal/localsource"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/transports/alltransports"
)

// resolveDirs resolves the non-empty directories of dirs (resolveDir).
func resolveDirs(dirs []string) []string {
	var resolved []string
	for _, d := range dirs {
		if d != "" {
			resolved = append(resolved, resolveDir(d))
		}
	}
	return resolved
}

// checkSource accepts a registry name or an image ID as is; a local
// transport's reference only as the allowed paths and stores say. A path
// transport's reference comes back as a *localPath to open (openLocal).
// Errors are *badRequest (400) or *forbidden (403).
func (c *config) checkSource(name string) (string, *localPath, error) {
	t := alltransports.TransportFromImageName(name)
	if t == nil || t.Name() == docker.Transport.Name() {
		return name, nil, nil // no transport prefix: a registry name or an ID
	}
	transport, within, _ := strings.Cut(name, ":")
	local := len(c.allowedPaths) > 0 || c.stores.any
	switch {
	case isLocalTransport(transport) && len(c.allowedPaths) > 0:
		lp, err := c.checkPath(transport, within)
		return name, lp, err
	case transport == "containers-storage" && c.stores.any:
		return name, nil, c.checkStore(name, within)
	case transport == "docker-daemon" && local:
		return "", nil, forbiddenf("docker-daemon: references are never served: this server does not hand out the host's Docker images")
	}
	return "", nil, badRequestf(fmt.Sprintf("unsupported transport %s in %q: only docker transport is supported%s", transport, clip(name), c.allowedTransportsHint()))
}

// allowedTransportsHint completes the "only docker" message with what the
// operator opened.
func (c *config) allowedTransportsHint() string {
	var more []string
	if len(c.allowedPaths) > 0 {
		more = append(more, "oci:, oci-archive:, dir: and docker-archive: under the allowed directories")
	}
	if c.stores.any {
		more = append(more, "containers-storage: of the allowed stores")
	}
	if len(more) == 0 {
		return ""
	}
	return " (and " + strings.Join(more, "; ") + ")"
}

// localPath is a path transport's reference that passed the check: the
// allowed directory it lies under and its resolved path relative to it.
type localPath struct {
	transport string
	root, rel string // rel: beneath root, symlinks resolved
	choice    string // ":choice" as given, or ""
	path      string // the path as the client wrote it
	shown     string // transport:path as the client wrote it, for messages
	private   string // the path the engine reads (openLocal), mapped back to path in what the client sees
}

// checkPath resolves the path of a path transport's reference and checks
// it lies under an allowed directory. A resolved path holding ':' is
// refused: all but dir: split their reference at the first ':', so the
// engine would read another path than the one checked.
func (c *config) checkPath(transport, within string) (*localPath, error) {
	path, choice, hasChoice := within, "", false
	if transport != "dir" {
		path, choice, hasChoice = strings.Cut(within, ":")
	}
	if !filepath.IsAbs(path) {
		return nil, badRequestf(fmt.Sprintf("%s:%s: the path must be absolute", transport, clip(path)))
	}
	resolved, err := resolvePath(path)
	root, rel, under := c.allowedRoot(resolved)
	if err != nil || !under {
		return nil, forbiddenf("%s:%s: the path is outside the directories this server allows (serve --allow-path)", transport, clip(path))
	}
	if transport != "dir" && strings.Contains(resolved, ":") {
		return nil, forbiddenf("%s:%s: the path resolves to %s, which holds a ':' that the %s transport would read as the end of the path", transport, clip(path), clip(resolved), transport)
	}
	lp := &localPath{transport: transport, root: root, rel: rel, path: path, shown: transport + ":" + path}
	if hasChoice {
		lp.choice = ":" + choice
	}
	return lp, nil
}

// allowedRoot returns the allowed directory p lies under, and p relative
// to it.
func (c *config) allowedRoot(p string) (root, rel string, ok bool) {
	for _, dir := range c.allowedPaths {
		if within(dir, p) {
			rel, _ := filepath.Rel(dir, p)
			return dir, rel, true
		}
	}
	return "", "", false
}

// isLocalTransport reports whether transport's reference is a local path.
func isLocalTransport(transport string) bool {
	_, ok := localKinds[transport]
	return ok
}

// localKinds are the transports whose reference is a local path ("path"
// or "path:choice"), and how each one's source is opened; the engine's
// localFiles (engine/transports.go) names the same four.
var localKinds = map[string]localsource.Kind{
	"oci-archive":    localsource.OCIArchive,
	"docker-archive": localsource.DockerArchive,
	"oci":            localsource.Layout,
	"dir":            localsource.Layout,
}

// openLocal opens a checked local source once and returns the reference
// the engine reads (the private copy's path, with the client's choice).
// The caller closes the source after the pull. Errors are classified
// (pullerrors): their HTTP status is the answer.
//
// The copy is made in the Engine's temporary directory (Engine.TempDir):
// if the server is killed during a pull, the next Engine on the store
// removes it with the Engine's other leftovers (unless the Engine could
// make no private directory: see TempDir).
func (h *handler) openLocal(ctx context.Context, lp *localPath) (string, *localsource.Source, error) {
	src, err := localsource.Open(ctx, lp.root, lp.rel, localKinds[lp.transport], lp.shown,
		localsource.Options{TempDir: h.e.TempDir(), MaxBytes: h.cfg.maxLocalBytes})
	if err != nil {
		return "", nil, err
	}
	if h.cfg.onLocalOpen != nil {
		h.cfg.onLocalOpen()
	}
	lp.private = src.Path
	return lp.transport + ":" + src.Path + lp.choice, src, nil
}

// within reports whether p is dir or lies under it (both resolved).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// checkStore accepts a containers-storage: reference without a store
// specification, or naming an allowed store as "[driver@graphroot]" only:
// a run root ("+run") or driver options (":vfs.imagestore=...") would let
// the client choose what is read, or how the store is opened.
func (c *config) checkStore(name, within string) error {
	if !strings.HasPrefix(within, "[") {
		return nil // the engine's own store
	}
	end := strings.IndexByte(within, ']')
	if end < 0 {
		return badRequestf(fmt.Sprintf("%q: the store specification has no closing ']'", clip(name)))
	}
	driver, root, ok := strings.Cut(within[1:end], "@")
	if !ok || !storeDriverName.MatchString(driver) || strings.ContainsAny(root, "+:") || !filepath.IsAbs(root) {
		return forbiddenf("%s: name an allowed store as containers-storage:[driver@graphroot]image; run roots and driver options are refused (serve --allow-store)", clip(name))
	}
	if c.stores.allows(root) {
		return nil
	}
	return forbiddenf("%s: the store %s is not one this server allows (serve --allow-store)", clip(name), clip(root))
}

// storeDriverName is what a storage driver's name looks like ("vfs",
// "overlay").
var storeDriverName = regexp.MustCompile(`^[a-z0-9]+$`)

// resolvePath resolves p (absolute) the way the kernel would: component by
// component, following symlinks and applying ".." to the resolved parent.
// The part past the first component that does not exist is joined as is
// (cleaned). A dangling or looping symlink is an error.
func resolvePath(p string) (string, error) {
	resolved := "/"
	parts := strings.Split(p, "/")
	for i, part := range parts {
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, part)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(next)
			if err != nil {
				// A dangling or looping link: where it points is unknown.
				return "", fmt.Errorf("resolving %s: %w", next, err)
			}
			resolved = target
		default:
			resolved = next
		}
	}
	return resolved, nil
}

// resolveDir is resolvePath for the operator's own directories: where a
// link cannot be resolved, the path is kept as given (cleaned).
func resolveDir(p string) string {
	r, err := resolvePath(filepath.Clean(p))
	if err != nil {
		return filepath.Clean(p)
	}
	return r
}
