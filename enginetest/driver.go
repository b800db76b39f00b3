package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.podman.io/storage"
	"go.podman.io/storage/drivers/overlay"
	storagetypes "go.podman.io/storage/types"
)

// The kit's storage driver.
//
// NewEngine's stores use overlay wherever the kernel lets the test process
// mount it (as root, or as root of a user namespace on kernels that allow
// unprivileged overlay), as Podman does: vfs copies every parent layer into
// each child (a 256 MiB bomb across 10 layers becomes 2.8 GiB on vfs, 257
// MiB on overlay) and cannot do partial pulls. Elsewhere, vfs, with the
// reason logged by every test that gets it. ENGINETEST_DRIVER=vfs (or
// overlay) forces a driver, e.g. to compare runs.

// driverEnv names the environment variable that forces the kit's driver.
const driverEnv = "ENGINETEST_DRIVER"

// probeDriver decides the default driver once per process: it opens an
// overlay store in a temp dir, which mounts overlay for the driver's
// feature checks.
var probeDriver = sync.OnceValues(func() (driver, reason string) {
	if d := os.Getenv(driverEnv); d != "" {
		return d, driverEnv + " says so"
	}
	dir, err := os.MkdirTemp("", "enginetest-overlay-probe-")
	if err != nil {
		return "vfs", fmt.Sprintf("overlay not probed: %v", err)
	}
	defer os.RemoveAll(dir)
	// Native overlay only: where the kernel refuses, storage would quietly
	// use fuse-overlayfs if installed, another driver in all but name.
	native, err := overlay.SupportsNativeOverlay(filepath.Join(dir, "root", "overlay"), filepath.Join(dir, "run", "overlay"))
	if err != nil || !native {
		return "vfs", fmt.Sprintf("the kernel does not mount overlay for this process (%v)", err)
	}
	s, err := storage.GetStore(storagetypes.StoreOptions{
		GraphRoot:          filepath.Join(dir, "root"),
		RunRoot:            filepath.Join(dir, "run"),
		GraphDriverName:    "overlay",
		GraphDriverOptions: driverOptions("overlay"),
	})
	if err != nil {
		return "vfs", fmt.Sprintf("overlay does not work here: %v", err)
	}
	_, _ = s.Shutdown(true)
	return "overlay", "the kernel mounts overlay here"
})

// DefaultDriver is the storage driver NewEngine uses without WithDriver,
// "overlay" or "vfs", and why.
func DefaultDriver() (driver, reason string) { return probeDriver() }

// driverOptions are the options the kit's stores give driver: in a
// namespace that maps one UID, layer files owned by other users keep our
// UID instead of failing the pull.
func driverOptions(driver string) []string {
	if singleUID && (driver == "vfs" || driver == "overlay") {
		return []string{driver + ".ignore_chown_errors=true"}
	}
	return nil
}
