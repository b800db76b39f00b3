package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/blobresume"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/configfile"
)

// Options configure an Engine. The zero value opens the host's default store
// with the host's configuration, as Podman would.
type Options struct {
	// RootDir is the store's graph root (Podman's --root). Empty: the
	// storage.conf default. Like Podman, the store starts from
	// storage.conf ($CONTAINERS_STORAGE_CONF, else the host's) and
	// overrides only the fields given here: its driver, driver options,
	// pull_options and additional image stores apply to RootDir too.
	RootDir string
	// RunDir is the store's run root (Podman's --runroot). Empty: the
	// storage.conf default, as Podman's (also with RootDir set: a pull next
	// to a podman that was given the same --root shares its run root).
	RunDir string
	// GraphDriver names the storage driver ("overlay", "vfs", ...). Empty:
	// storage.conf's driver, else the driver the store already uses, else
	// the first that works here. A driver other than the one the store at
	// RootDir already holds images of is an InvalidArgument error (it would
	// start a second, empty store beside the first). A driver other than
	// storage.conf's drops storage.conf's driver options, as in Podman.
	GraphDriver string
	// GraphDriverOptions replace storage.conf's driver options (Podman's
	// --storage-opt), e.g. "vfs.ignore_chown_errors=true". Nil: storage.conf's.
	GraphDriverOptions []string
	// PartialPulls switches zstd:chunked partial pulls (fetch only the
	// files the store lacks; overlay driver only): True on, False off,
	// Undefined (zero) as storage.conf's pull_options enable_partial_images
	// says. True on a driver other than overlay makes New fail with
	// InvalidArgument; storage.conf enabling it there gets a logged warning
	// (pulls then fetch whole layers). With Store set, the store's own pull
	// options must agree with a True or False here.
	PartialPulls types.OptionalBool
	// Store, when set, is used instead of opening one; RootDir, RunDir and
	// the driver fields are then ignored, and Close leaves the store open.
	Store storage.Store

	// RegistriesConfPath replaces the host's registries.conf; its drop-in
	// directory is RegistriesConfPath + ".d".
	RegistriesConfPath string
	// SignaturePolicyPath replaces the host's policy.json.
	SignaturePolicyPath string
	// AuthFilePath replaces the default auth file (containers-auth.json(5)).
	// Empty: $REGISTRY_AUTH_FILE when set (as Podman), else the default
	// auth files of containers-auth.json(5).
	AuthFilePath string
	// ContainersConfPath names the containers.conf whose [engine]
	// pull_policy, retry and retry_delay apply. Empty: the host's
	// containers.conf files (and $CONTAINERS_CONF), as Podman reads them.
	ContainersConfPath string
	// SystemContext is an optional base for every pull's SystemContext. It
	// is copied, never mutated; the fields above override it.
	SystemContext *types.SystemContext

	// MaxParallelDownloads bounds the layers one pull downloads at once.
	// Zero: containers.conf image_parallel_copies, else containers/image's
	// default (6).
	MaxParallelDownloads uint

	// Resume configures the keeping and resuming of interrupted blob
	// downloads and the stall watchdog; the zero value is on, with the
	// defaults of ResumeOptions.
	Resume ResumeOptions
	// Limits bound the images a pull accepts (layer count, uncompressed
	// sizes); the zero value sets no limit.
	Limits Limits

	// DisableFastPath sends every pull through containers/image's
	// copy.Image, as before the fast path existed. By default, registry
	// pulls into an overlay store take the fast path (README "Fast path";
	// Transfer.Path says which path served a pull).
	DisableFastPath bool

	// Logger receives the engine's own logs. Nil discards them.
	Logger *slog.Logger
	// Observer, when set, is told about every Pull (for metrics; see
	// package metrics).
	Observer Observer

	// AllowedStores are the graph roots of other stores that a
	// "containers-storage:[driver@ROOT]name" source may name (see
	// Engine.Pull). None by default: such a name is refused unless it
	// names the Engine's own store, and no store is ever created for it.
	// An allowed store is opened once, with the driver it already holds
	// layers of and a run root of the Engine's own; a name giving a run
	// root or driver options for it is refused (Denied). Close shuts it
	// down.
	AllowedStores []string
}

// Engine pulls images into one store. Create it with New, release it with
// Close. All methods are safe for concurrent use.
type Engine struct {
	store     storage.Store
	ownsStore bool
	sys       types.SystemContext // base; copied per pull
	config    *configWatch        // containers.conf and policy.json, re-read on change
	log       *slog.Logger
	flights   flights // shared concurrent transfers
	resume    resumeConf
	limits    Limits
	fastOff   bool             // Options.DisableFastPath
	tmpDir    string           // the engine's private big-files directory
	tmpLock   *blobresume.Lock // held while tmpDir is in use
	// allowedStores are Options.AllowedStores, cleaned.
	allowedStores []string
	// others are the allowed stores opened so far (otherstores.go).
	others      otherStores
	observer    Observer     // Options.Observer
	driverProbe *driverProbe // the store's overlay feature probe (driverprobe.go)
}

// New opens the store (unless Options.Store is given) and reads the host
// configuration; a Pull re-reads it when one of its files has changed since.
//
// The program must call Init (go.podman.io/storage/pkg/reexec.Init) first in
// main, and in TestMain of tests: writing layers re-executes the program.
// Without it New fails with ErrReexecNotInitialized instead of a panic at the
// first layer write.
//
// Build tags: the module builds with `-tags
// containers_image_openpgp,exclude_graphdriver_btrfs` (else cgo needs the
// gpgme and btrfs headers); see the package documentation.
func New(opts Options) (*Engine, error) {
	if err := checkReexec(); err != nil {
		return nil, err
	}
	e := &Engine{log: opts.Logger, limits: opts.Limits, fastOff: opts.DisableFastPath, allowedStores: cleanRoots(opts.AllowedStores)}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.observer = opts.Observer
	if opts.SystemContext != nil {
		e.sys = *opts.SystemContext
	}
	applyPaths(&e.sys, opts)

	var err error
	e.config, err = newConfigWatch(e, opts, func() (*settings, error) { return e.loadSettings(opts) })
	if err != nil {
		return nil, err
	}

	if opts.Store != nil {
		e.store = opts.Store
	} else {
		e.store, err = openStore(opts)
		if err != nil {
			return nil, err
		}
		e.ownsStore = true
	}
	e.driverProbe = probeOf(e.store)
	if err := checkPartialPulls(e.store, opts.PartialPulls, e.log); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.setupDirs(); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.setupResume(opts.Resume); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// setupDirs settles the directories of big temporary files and of the
// blob-info cache (under the store unless the SystemContext names them),
// and takes the Engine's private temporary directory.
func (e *Engine) setupDirs() error {
	if e.sys.BigFilesTemporaryDir == "" {
		// The default, /var/tmp, may sit on another file system or be
		// unwritable; the store's own tmp directory is neither.
		e.sys.BigFilesTemporaryDir = filepath.Join(e.store.GraphRoot(), "tmp")
	}
	if e.sys.BlobInfoCacheDir == "" {
		e.sys.BlobInfoCacheDir = filepath.Join(e.store.GraphRoot(), "cache")
	}
	for _, dir := range []string{e.sys.BigFilesTemporaryDir, e.sys.BlobInfoCacheDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, pullerrors.Wrap(pullerrors.Storage, err))
		}
	}
	if dir, err := e.setupTmpDir(e.sys.BigFilesTemporaryDir); errors.Is(err, blobresume.ErrNotPrivate) {
		return err
	} else if err != nil {
		e.log.Warn("no private temporary directory; leftovers of a killed pull will stay", "dir", e.sys.BigFilesTemporaryDir, "err", err)
	} else {
		e.sys.BigFilesTemporaryDir = dir
	}
	return nil
}

// loadSettings reads containers.conf and policy.json.
func (e *Engine) loadSettings(opts Options) (*settings, error) {
	conf, err := loadHostConf(opts.ContainersConfPath)
	if err != nil {
		return nil, err
	}
	if opts.MaxParallelDownloads > 0 {
		conf.parallelCopies = opts.MaxParallelDownloads
	}
	p, err := loadSignaturePolicy(&e.sys, e.log)
	if err != nil {
		return nil, err
	}
	return &settings{conf: conf, policy: p}, nil
}

// applyPaths copies the configuration paths of opts into sys.
func applyPaths(sys *types.SystemContext, opts Options) {
	if opts.RegistriesConfPath != "" {
		sys.SystemRegistriesConfPath = opts.RegistriesConfPath
		sys.SystemRegistriesConfDirPath = opts.RegistriesConfPath + ".d"
	}
	if opts.SignaturePolicyPath != "" {
		sys.SignaturePolicyPath = opts.SignaturePolicyPath
	}
	if opts.AuthFilePath != "" {
		sys.AuthFilePath = opts.AuthFilePath
	}
	if sys.AuthFilePath == "" {
		// Podman's --authfile default (c/common pkg/auth); c/image itself
		// does not read the variable.
		sys.AuthFilePath = os.Getenv("REGISTRY_AUTH_FILE")
	}
}

// loadSignaturePolicy reads policy.json. A host with none at all (a fresh
// machine, a container, a test) gets the policy such a host has de facto,
// accept anything, with a warning: refusing every pull there, as Podman
// does, helps nobody. A policy file named explicitly must exist.
func loadSignaturePolicy(sys *types.SystemContext, log *slog.Logger) (*signature.Policy, error) {
	p, err := signature.DefaultPolicy(sys)
	if err != nil && sys.SignaturePolicyPath == "" && errors.Is(err, configfile.ErrConfigFileNotFound) {
		log.Warn("no policy.json found; accepting images without signature checks", "err", err)
		return &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading signature policy: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	return p, nil
}

// Store returns the store the engine pulls into.
func (e *Engine) Store() storage.Store { return e.store }

// TempDir is the directory for the Engine's big temporary files: its
// private directory under the SystemContext's BigFilesTemporaryDir (by
// default the store's tmp). Close removes it; if the process dies first,
// the next Engine started on the same directory removes it. A caller
// keeping files for its pulls there (httpapi's private copies of local
// sources) gets the same clean-up. Where the private directory could not
// be made (New logs why, e.g. a file system without flock), TempDir is
// BigFilesTemporaryDir itself, where containers/image writes too, and
// nothing there is removed for the caller.
func (e *Engine) TempDir() string {
	if e.tmpDir == "" {
		return e.sys.BigFilesTemporaryDir
	}
	return e.tmpDir
}

// Close cancels the transfers still in flight and waits until each has torn
// down (temporary files removed, partial layers left as they are; see
// Prune), removes the engine's temporary files, shuts down the allowed
// stores pulls read from, then shuts the store down if the engine opened
// it. A store passed in Options.Store stays open. Partial blobs kept for
// resuming stay (see ResumeOptions).
func (e *Engine) Close() error {
	e.flights.shutdown()
	e.driverProbe.end()
	e.closeTmpDir()
	othersErr := e.others.close()
	if !e.ownsStore {
		return othersErr
	}
	if _, err := e.store.Shutdown(false); err != nil && !errors.Is(err, storage.ErrLayerUsedByContainer) {
		return errors.Join(othersErr, fmt.Errorf("closing store: %w", err))
	}
	return othersErr
}
