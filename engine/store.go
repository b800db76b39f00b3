package engine

import (
	"fmt"
	"os"
	"slices"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
)

// openStore opens the store the options describe.
func openStore(opts Options) (storage.Store, error) {
	so, err := storeOptions(opts)
	if err != nil {
		return nil, err
	}
	s, err := storage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("opening store at %s: %w", so.GraphRoot, pullerrors.Wrap(pullerrors.Storage, err))
	}
	return s, nil
}

// storeOptions builds the store's options as Podman does: storage.conf's
// (storagetypes.DefaultStoreOptions), with only what the options give
// overridden. A driver given that differs from storage.conf's drops
// storage.conf's driver options, which are the other driver's. The driver
// that results must be the one the store at the graph root already uses,
// if it holds any images.
func storeOptions(opts Options) (storagetypes.StoreOptions, error) {
	so, err := storagetypes.LoadStoreOptions(storagetypes.LoadOptions{})
	if err != nil {
		return so, fmt.Errorf("reading storage configuration: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	if opts.RootDir != "" {
		so.GraphRoot = opts.RootDir
	}
	if opts.RunDir != "" {
		so.RunRoot = opts.RunDir
	}
	driverFrom := "storage.conf"
	if opts.GraphDriver != "" {
		if opts.GraphDriver != so.GraphDriverName {
			so.GraphDriverOptions = nil
		}
		so.GraphDriverName, driverFrom = opts.GraphDriver, "the driver asked for"
	}
	if opts.GraphDriverOptions != nil {
		so.GraphDriverOptions = opts.GraphDriverOptions
	}
	applyPartialPulls(&so, opts.PartialPulls)
	if so.GraphDriverName == "" {
		// containers/storage would pick by its priority list, which
		// leaves out vfs: a vfs store would get an overlay store beside it.
		if prior := priorDrivers(so.GraphRoot); len(prior) == 1 {
			so.GraphDriverName = prior[0]
		}
	}
	if err := checkDriver(so.GraphRoot, so.GraphDriverName, driverFrom); err != nil {
		return so, err
	}
	return so, nil
}

// checkDriver fails when root holds the layers of other drivers and none of
// driver: containers/storage would open a second, empty store beside the
// existing one, and the images pulled there would be invisible to every
// tool that uses the existing driver (Podman refuses such a store too).
func checkDriver(root, driver, from string) error {
	if driver == "" {
		return nil // a fresh store, or several drivers: containers/storage picks
	}
	prior := priorDrivers(root)
	if len(prior) == 0 || slices.Contains(prior, driver) {
		return nil
	}
	return pullerrors.Errorf(pullerrors.InvalidArgument, "the store at %s holds images of the %s driver, but %s is %q: "+
		"it would start an empty store beside them; use --storage-driver %s (GraphDriver), or another root",
		root, strings.Join(prior, ", "), from, driver, prior[0])
}

// priorDrivers lists the drivers whose layer store exists under root
// (containers/storage keeps a driver's layers in ROOT/DRIVER-layers).
func priorDrivers(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var drivers []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), "-layers"); ok && e.IsDir() && name != "" {
			if _, err := os.Stat(root + "/" + e.Name() + "/layers.json"); err == nil {
				drivers = append(drivers, name)
			}
		}
	}
	return drivers
}
