package main

import (
	"flag"

	"github.com/pullengine/pullengine/engine"
)

// storeFlags are the flags every subcommand shares: where the store is and
// which registries.conf applies.
type storeFlags struct {
	root, runroot, driver, registriesConf string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.root, "root", "", "store root directory (default: storage.conf)")
	fs.StringVar(&s.runroot, "runroot", "", "store run directory (default: ROOT/run with --root, else storage.conf)")
	fs.StringVar(&s.driver, "storage-driver", "", "storage driver (default: the first that works here)")
	fs.StringVar(&s.registriesConf, "registries-conf", "", "registries.conf to use instead of the host's")
}

// engineOptions returns the engine.Options the flags describe.
func (s *storeFlags) engineOptions() engine.Options {
	return engine.Options{RootDir: s.root, RunDir: s.runroot, GraphDriver: s.driver, RegistriesConfPath: s.registriesConf}
}
