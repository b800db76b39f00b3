package engine

// Store references.
//
// A "containers-storage:" source may carry a store specification,
// "containers-storage:[driver@/graph/root+/run/root:options]name".
// containers/image opens (and creates) whatever store it names the moment
// the reference is parsed: a name could make the Engine create a whole
// store anywhere on the host. The Engine's store is the destination of
// every pull, so such a name is read here first: naming the Engine's own
// store, or none, it is parsed against the Engine's store; naming another
// store, it is refused (invalid-argument) unless Options.AllowedStores
// lists that store's graph root and the root exists. Nothing is created
// for a refused name.
//
// An allowed store is opened by the Engine, once, on its first use
// (otherstores.go), and shut down by Close: the name chooses the store,
// never how it is opened. Its specification may give the driver and the
// graph root only; driver options (an image store, a mount program) or a
// run root would let a name read another store than the one allowed, and
// are refused.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	istorage "go.podman.io/image/v5/storage"
)

const storagePrefix = "containers-storage:"

// parseName is parseInput, with containers-storage: names read against
// the Engine's stores first.
func (e *Engine) parseName(name string) (input, error) {
	rest, ok := strings.CutPrefix(name, storagePrefix)
	if !ok {
		return parseInput(name)
	}
	spec, within, hasSpec := storeSpec(rest)
	if !hasSpec || e.isOwnStore(spec) {
		ref, err := istorage.Transport.ParseStoreReference(e.store, within)
		if err != nil {
			return input{raw: name}, invalidReference(name, err)
		}
		return input{raw: name, transportRef: ref}, nil
	}
	if spec.root == "" || !filepath.IsAbs(spec.root) {
		return input{raw: name}, invalidReference(name, fmt.Errorf("the store's graph root %q is not an absolute path", spec.root))
	}
	if !e.storeAllowed(spec.root) {
		return input{raw: name}, pullerrors.Errorf(pullerrors.InvalidArgument,
			"%q names another store (graph root %s): a pull reads from the Engine's store (%s) or from stores the Engine allows (Options.AllowedStores)",
			name, spec.root, e.store.GraphRoot())
	}
	if spec.runRoot != "" || spec.options {
		return input{raw: name}, pullerrors.Errorf(pullerrors.Denied,
			"%q gives a run root or driver options for the allowed store %s: name it as [driver@%s] only",
			name, spec.root, spec.root)
	}
	store, err := e.others.open(spec.root, spec.driver, e.store.RunRoot())
	if err != nil {
		return input{raw: name}, err
	}
	ref, err := istorage.Transport.ParseStoreReference(store, within)
	if err != nil {
		return input{raw: name}, invalidReference(name, err)
	}
	return input{raw: name, transportRef: ref}, nil
}

// storeSpecification is the bracketed part of a containers-storage
// reference, as containers/image reads it.
type storeSpecification struct {
	driver, root, runRoot string
	options               bool // driver options follow the roots
}

// storeSpec splits "[driver@root+run:options]name" into the specification
// and the name; hasSpec is false without a leading '['. A '[' without ']'
// is returned as no spec, for containers/image to refuse.
func storeSpec(s string) (spec storeSpecification, rest string, hasSpec bool) {
	if !strings.HasPrefix(s, "[") {
		return spec, s, false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return spec, s, false
	}
	inside := s[1:end]
	if driver, root, ok := strings.Cut(inside, "@"); ok {
		spec.driver, inside = driver, root
	}
	inside, _, spec.options = strings.Cut(inside, ":") // graph driver options
	spec.root, spec.runRoot, _ = strings.Cut(inside, "+")
	return spec, s[end+1:], true
}

// isOwnStore reports whether spec names the Engine's store: its graph
// root, and its driver and run root when given.
func (e *Engine) isOwnStore(spec storeSpecification) bool {
	return sameDir(spec.root, e.store.GraphRoot()) &&
		(spec.driver == "" || spec.driver == e.store.GraphDriverName()) &&
		(spec.runRoot == "" || sameDir(spec.runRoot, e.store.RunRoot()))
}

// storeAllowed reports whether root is one of the allowed stores' graph
// roots and exists (an allowed store is opened, never created).
func (e *Engine) storeAllowed(root string) bool {
	if !e.AllowsStore(root) {
		return false
	}
	fi, err := os.Stat(root)
	return err == nil && fi.IsDir()
}

// AllowedStores returns the graph roots of Options.AllowedStores, cleaned,
// without empty strings: the other stores a containers-storage: name may
// read from. A server in front of the Engine (httpapi) asks it rather than
// keeping a list of its own.
func (e *Engine) AllowedStores() []string {
	return append([]string(nil), e.allowedStores...)
}

// AllowsStore reports whether root (an absolute graph root) is one of
// Options.AllowedStores, compared after cleaning and, where the paths
// exist, resolving symlinks. Whether the store exists is checked when a
// pull opens it.
func (e *Engine) AllowsStore(root string) bool {
	for _, allowed := range e.allowedStores {
		if sameDir(root, allowed) {
			return true
		}
	}
	return false
}

// sameDir reports whether a and b are the same absolute path, after
// cleaning and, where they exist, resolving symlinks.
func sameDir(a, b string) bool {
	if a == "" || b == "" || !filepath.IsAbs(a) || !filepath.IsAbs(b) {
		return false
	}
	return resolvedPath(a) == resolvedPath(b)
}

// resolvedPath is p cleaned, with its symlinks resolved when it exists.
func resolvedPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// cleanRoots cleans the graph roots of Options.AllowedStores.
func cleanRoots(roots []string) []string {
	out := make([]string, 0, len(roots))
	for _, r := range roots {
		if r != "" {
			out = append(out, filepath.Clean(r))
		}
	}
	return out
}
