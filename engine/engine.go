// Package engine pulls container images into a local containers-storage
// store: one Pull call that resolves the name the way Podman does, applies
// the pull policy, copies with containers/image, and reports what it did.
//
// An Engine owns (or borrows) a store and the host configuration it reads
// once: registries.conf, containers.conf, policy.json. It is safe for
// concurrent use.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/configfile"
	storagetypes "go.podman.io/storage/types"
)

// Options configure an Engine. The zero value opens the host's default store
// with the host's configuration, as Podman would.
type Options struct {
	// RootDir is the store's graph root (Podman's --root). Empty: the
	// storage.conf default.
	RootDir string
	// RunDir is the store's run root (Podman's --runroot). Empty: the
	// storage.conf default, or RootDir/run when RootDir is set.
	RunDir string
	// GraphDriver names the storage driver ("overlay", "vfs", ...). Empty:
	// storage picks the first driver that works here, vfs as the last resort.
	GraphDriver string
	// GraphDriverOptions are passed to the driver, e.g.
	// "vfs.ignore_chown_errors=true".
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

	// Logger receives the engine's own logs. Nil discards them.
	Logger *slog.Logger
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
}

// New opens the store (unless Options.Store is given) and reads the host
// configuration once.
func New(opts Options) (*Engine, error) {
	e := &Engine{log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
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
	if err := checkPartialPulls(e.store, opts.PartialPulls, e.log); err != nil {
		e.Close()
		return nil, err
	}
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
			e.Close()
			return nil, fmt.Errorf("creating %s: %w", dir, pullerrors.Wrap(pullerrors.Storage, err))
		}
	}
	return e, nil
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

func openStore(opts Options) (storage.Store, error) {
	var so storagetypes.StoreOptions
	if opts.RootDir == "" {
		def, err := storage.DefaultStoreOptions()
		if err != nil {
			return nil, fmt.Errorf("reading storage configuration: %w", pullerrors.Wrap(pullerrors.Storage, err))
		}
		so = def
	} else {
		so.GraphRoot = opts.RootDir
		so.RunRoot = filepath.Join(opts.RootDir, "run")
	}
	if opts.RunDir != "" {
		so.RunRoot = opts.RunDir
	}
	if opts.GraphDriver != "" {
		so.GraphDriverName = opts.GraphDriver
		so.GraphDriverOptions = nil
	}
	if opts.GraphDriverOptions != nil {
		so.GraphDriverOptions = opts.GraphDriverOptions
	}
	applyPartialPulls(&so, opts.PartialPulls)
	s, err := storage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("opening store at %s: %w", so.GraphRoot, pullerrors.Wrap(pullerrors.Storage, err))
	}
	return s, nil
}

// Store returns the store the engine pulls into.
func (e *Engine) Store() storage.Store { return e.store }

// Close shuts the store down if the engine opened it. A store passed in
// Options.Store stays open.
func (e *Engine) Close() error {
	if !e.ownsStore {
		return nil
	}
	if _, err := e.store.Shutdown(false); err != nil && !errors.Is(err, storage.ErrLayerUsedByContainer) {
		return fmt.Errorf("closing store: %w", err)
	}
	return nil
}
