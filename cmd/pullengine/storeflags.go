package main

import (
	"flag"

	"github.com/pullengine/pullengine/engine"
	"github.com/spf13/pflag"
)

// storeFlags are the flags every subcommand shares: where the store is and
// which registries.conf applies. Unset flags leave storage.conf's values,
// as in podman.
type storeFlags struct {
	root, runroot, driver, registriesConf string
	// storageOpts is --storage-opt (pull only); nil when not given.
	storageOpts []string
}

const (
	rootUsage    = "store root directory (default: storage.conf's graphroot)"
	runrootUsage = "store run directory (default: storage.conf's runroot, also with --root, as podman)"
	driverUsage  = "storage driver (default: storage.conf's, else the store's own); must match the drivers of a store that has images"
	regConfUsage = "registries.conf to use instead of the host's"
)

// register adds the flags to a standard library flag set (serve).
func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.root, "root", "", rootUsage)
	fs.StringVar(&s.runroot, "runroot", "", runrootUsage)
	fs.StringVar(&s.driver, "storage-driver", "", driverUsage)
	fs.StringVar(&s.registriesConf, "registries-conf", "", regConfUsage)
}

// registerPflag adds the flags, and --storage-opt, to a pflag set (pull).
func (s *storeFlags) registerPflag(fs *pflag.FlagSet) {
	fs.StringVar(&s.root, "root", "", rootUsage)
	fs.StringVar(&s.runroot, "runroot", "", runrootUsage)
	fs.StringVar(&s.driver, "storage-driver", "", driverUsage)
	fs.StringVar(&s.registriesConf, "registries-conf", "", regConfUsage)
	fs.StringArrayVar(&s.storageOpts, "storage-opt", nil, `storage driver option, repeatable (replaces storage.conf's; "" clears them)`)
}

// engineOptions returns the engine.Options the flags describe.
func (s *storeFlags) engineOptions() engine.Options {
	o := engine.Options{RootDir: s.root, RunDir: s.runroot, GraphDriver: s.driver, RegistriesConfPath: s.registriesConf}
	if s.storageOpts != nil {
		o.GraphDriverOptions = []string{}
		for _, opt := range s.storageOpts {
			if opt != "" {
				o.GraphDriverOptions = append(o.GraphDriverOptions, opt)
			}
		}
	}
	return o
}
