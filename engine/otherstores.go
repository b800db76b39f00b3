package engine

// The allowed stores (Options.AllowedStores) a containers-storage: source
// names. containers/image would open (and create) a store for every name it
// parses, with whatever driver, options and run root the name gives, and
// never shut it down: memory grows with every pull, and a wrong driver
// initializes (and mounts) a second driver inside the allowed store. Here
// each allowed store is opened once, with the driver it already holds
// layers of, a run root private to this Engine, and no driver options; it
// is reused by every later pull and shut down by Close.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/storage"
	"go.podman.io/storage/types"
)

// otherStores are the allowed stores opened so far, by graph root.
type otherStores struct {
	mu     sync.Mutex
	stores map[string]storage.Store
	closed bool
}

// open returns the store at root (allowed, existing), opening it on first
// use. driver, when given, must be a driver the store already holds layers
// of; when empty, the store's only driver is used.
func (o *otherStores) open(root, driver, ownRunRoot string) (storage.Store, error) {
	root = resolvedPath(root)
	driver, err := storeDriver(root, driver)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, pullerrors.Errorf(pullerrors.Canceled, "the engine is closed")
	}
	if s, ok := o.stores[root]; ok {
		if s.GraphDriverName() != driver {
			return nil, pullerrors.Errorf(pullerrors.Denied, "the store %s is opened with the %s driver, not %s", root, s.GraphDriverName(), driver)
		}
		return s, nil
	}
	sum := sha256.Sum256([]byte(root))
	s, err := storage.GetStore(types.StoreOptions{
		GraphRoot:       root,
		RunRoot:         filepath.Join(ownRunRoot, "allowed-stores", hex.EncodeToString(sum[:8])),
		GraphDriverName: driver,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the store %s: %w", root, pullerrors.Wrap(pullerrors.Storage, err))
	}
	if o.stores == nil {
		o.stores = map[string]storage.Store{}
	}
	o.stores[root] = s
	return s, nil
}

// storeDriver checks driver against the drivers the store at root holds
// layers of (a DRIVER-layers directory each), or picks its only one.
func storeDriver(root, driver string) (string, error) {
	if driver != "" {
		if fi, err := os.Stat(filepath.Join(root, driver+"-layers")); err != nil || !fi.IsDir() {
			return "", pullerrors.Errorf(pullerrors.Denied, "the store %s holds no %s layers: name it with the driver it uses", root, driver)
		}
		return driver, nil
	}
	found, _ := filepath.Glob(filepath.Join(root, "*-layers"))
	if len(found) != 1 {
		return "", pullerrors.Errorf(pullerrors.InvalidArgument, "the store %s holds the layers of %d drivers: name the driver, [driver@%s]", root, len(found), root)
	}
	return filepath.Base(found[0][:len(found[0])-len("-layers")]), nil
}

// close shuts every opened store down; later opens fail.
func (o *otherStores) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	var errs []error
	for root, s := range o.stores {
		if _, err := s.Shutdown(false); err != nil && !errors.Is(err, storage.ErrLayerUsedByContainer) {
			errs = append(errs, fmt.Errorf("closing the store %s: %w", root, err))
		}
	}
	o.stores = nil
	return errors.Join(errs...)
}
