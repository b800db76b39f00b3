package httpapi

// Local sources.
//
// Like libpod, the handler pulls registry names (and image IDs) only: a
// remote client has no business reading the server's files. An operator
// may open local transports to directories it names (Options.AllowedPaths):
// oci:, oci-archive:, dir: and docker-archive: references are accepted when
// their path, with symlinks and ".." resolved, lies in one of them, and
// are passed on with the resolved path; others are refused with 403.
// containers-storage: references are accepted for the stores the operator
// names (Options.AllowedStores), and without a store specification (the
// engine's own store). docker-daemon: is never accepted: it would hand
// every image of the host's Docker daemon to the client.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/transports/alltransports"
)

// pathTransports are the transports whose reference is a local path,
// "path" or "path:choice".
var pathTransports = map[string]bool{"oci": true, "oci-archive": true, "docker-archive": true, "dir": true}

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
// transport's reference only as the allowed paths and stores say, with
// its path resolved. Errors are *badRequest (400) or *forbidden (403).
func (c *config) checkSource(name string) (string, error) {
	t := alltransports.TransportFromImageName(name)
	if t == nil || t.Name() == docker.Transport.Name() {
		return name, nil // no transport prefix: a registry name or an ID
	}
	transport, within, _ := strings.Cut(name, ":")
	local := len(c.allowedPaths) > 0 || len(c.allowedStores) > 0
	switch {
	case pathTransports[transport] && len(c.allowedPaths) > 0:
		return c.checkPath(transport, within)
	case transport == "containers-storage" && len(c.allowedStores) > 0:
		return name, c.checkStore(name, within)
	case transport == "docker-daemon" && local:
		return "", forbiddenf("docker-daemon: references are never served: this server does not hand out the host's Docker images")
	}
	return "", badRequestf(fmt.Sprintf("unsupported transport %s in %q: only docker transport is supported%s", transport, clip(name), c.allowedTransportsHint()))
}

// allowedTransportsHint completes the "only docker" message with what the
// operator opened.
func (c *config) allowedTransportsHint() string {
	var more []string
	if len(c.allowedPaths) > 0 {
		more = append(more, "oci:, oci-archive:, dir: and docker-archive: under the allowed directories")
	}
	if len(c.allowedStores) > 0 {
		more = append(more, "containers-storage: of the allowed stores")
	}
	if len(more) == 0 {
		return ""
	}
	return " (and " + strings.Join(more, "; ") + ")"
}

// checkPath resolves the path of a path transport's reference and checks
// it lies under an allowed directory; it returns the reference with the
// resolved path, so the engine reads what was checked.
func (c *config) checkPath(transport, within string) (string, error) {
	path, choice, hasChoice := within, "", false
	if transport != "dir" {
		path, choice, hasChoice = strings.Cut(within, ":")
	}
	if !filepath.IsAbs(path) {
		return "", badRequestf(fmt.Sprintf("%s:%s: the path must be absolute", transport, clip(path)))
	}
	resolved, err := resolvePath(path)
	if err != nil || !c.underAllowedPath(resolved) {
		return "", forbiddenf("%s:%s: the path is outside the directories this server allows (serve --allow-path)", transport, clip(path))
	}
	ref := transport + ":" + resolved
	if hasChoice {
		ref += ":" + choice
	}
	return ref, nil
}

func (c *config) underAllowedPath(p string) bool {
	for _, dir := range c.allowedPaths {
		if within(dir, p) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or lies under it (both resolved).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// checkStore accepts a containers-storage: reference without a store
// specification, or naming an allowed store's graph root.
func (c *config) checkStore(name, within string) error {
	if !strings.HasPrefix(within, "[") {
		return nil // the engine's own store
	}
	end := strings.IndexByte(within, ']')
	if end < 0 {
		return badRequestf(fmt.Sprintf("%q: the store specification has no closing ']'", clip(name)))
	}
	spec := within[1:end]
	if _, root, ok := strings.Cut(spec, "@"); ok {
		spec = root
	}
	spec, _, _ = strings.Cut(spec, ":")
	root, _, _ := strings.Cut(spec, "+")
	if filepath.IsAbs(root) {
		resolved := resolveDir(root)
		for _, allowed := range c.allowedStores {
			if resolved == allowed {
				return nil
			}
		}
	}
	return forbiddenf("%s: the store %s is not one this server allows (serve --allow-store)", clip(name), clip(root))
}

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
