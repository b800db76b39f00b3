package main

import (
	"github.com/pullengine/pullengine/engine"
	"github.com/spf13/pflag"
)

// storeFlags are the flags pull and serve share: where the store is,
// which registries.conf and policy.json apply, which auth file. Unset
// flags leave storage.conf's (and the host's) values, as in podman.
type storeFlags struct {
	root, runroot, driver, registriesConf string
	// storageOpts is --storage-opt; nil when not given.
	storageOpts []string
	sigPolicy   string
	authfile    string
}

// register adds the flags to a command's flag set: the one registration
// of them.
func (s *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.root, "root", "", "store root directory (default: storage.conf's graphroot)")
	fs.StringVar(&s.runroot, "runroot", "", "store run directory (default: storage.conf's runroot, also with --root, as podman)")
	fs.StringVar(&s.driver, "storage-driver", "", "storage driver (default: storage.conf's, else the store's own); must match the drivers of a store that has images")
	fs.StringArrayVar(&s.storageOpts, "storage-opt", nil, `storage driver option, repeatable (replaces storage.conf's; "" clears them)`)
	fs.StringVar(&s.registriesConf, "registries-conf", "", "registries.conf to use instead of the host's")
	fs.StringVar(&s.sigPolicy, "signature-policy", "", "policy.json to use instead of the host's")
	fs.StringVar(&s.authfile, "authfile", "", "auth file (default: $REGISTRY_AUTH_FILE, else containers-auth.json's defaults); serve uses it for requests that bring no credentials")
}

// engineOptions returns the engine.Options the flags describe; the auth
// file is left to the command (pull gives it per pull, serve per engine).
func (s *storeFlags) engineOptions() engine.Options {
	o := engine.Options{RootDir: s.root, RunDir: s.runroot, GraphDriver: s.driver,
		RegistriesConfPath: s.registriesConf, SignaturePolicyPath: s.sigPolicy}
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
