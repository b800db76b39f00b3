package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
)

// settings is what the engine reads from the host's configuration files:
// read in New, read again only when a file changes (configWatch).
type settings struct {
	conf   hostConf
	policy *signature.Policy
}

// stamp identifies a version of a file or directory cheaply.
type stamp struct {
	exists bool
	mod    time.Time
	size   int64
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{exists: true, mod: fi.ModTime(), size: fi.Size()}
}

// configWatch re-reads the configuration when one of its files changes, so
// a daemon embedding the engine follows edits of registries.conf,
// policy.json and containers.conf without a restart. The cost per pull is a
// few stat calls.
type configWatch struct {
	mu       sync.Mutex
	current  *settings
	registry []string // registries.conf and its drop-in directory
	others   []string // policy.json and containers.conf candidates
	stamps   map[string]stamp
	load     func() (*settings, error)
	broken   error // the last re-read failed: try again on every pull
}

func newConfigWatch(e *Engine, opts Options, load func() (*settings, error)) (*configWatch, error) {
	w := &configWatch{load: load, stamps: map[string]stamp{}}
	reg := e.sys.SystemRegistriesConfPath
	if reg == "" {
		reg = "/etc/containers/registries.conf"
	}
	regDir := e.sys.SystemRegistriesConfDirPath
	if regDir == "" {
		regDir = reg + ".d"
	}
	w.registry = []string{reg, regDir}
	if home, err := os.UserHomeDir(); err == nil {
		w.registry = append(w.registry, filepath.Join(home, ".config/containers/registries.conf"))
	}
	if p := e.sys.SignaturePolicyPath; p != "" {
		w.others = append(w.others, p)
	} else {
		w.others = append(w.others, "/etc/containers/policy.json")
	}
	if p := opts.ContainersConfPath; p != "" {
		w.others = append(w.others, p)
	} else {
		w.others = append(w.others, "/etc/containers/containers.conf", os.Getenv("CONTAINERS_CONF"))
	}
	w.snapshot()
	s, err := load()
	if err != nil {
		return nil, err
	}
	w.current = s
	return w, nil
}

// snapshot records the stamps of every watched path and reports which
// groups changed since the last snapshot.
func (w *configWatch) snapshot() (registryChanged, othersChanged bool) {
	check := func(paths []string) bool {
		changed := false
		for _, p := range paths {
			if p == "" {
				continue
			}
			s := stampOf(p)
			if old, seen := w.stamps[p]; !seen || old != s {
				changed = changed || seen
				w.stamps[p] = s
			}
		}
		return changed
	}
	return check(w.registry), check(w.others)
}

// get returns the settings, re-read if a watched file changed. A file
// changed into something invalid fails the pull (a broken policy.json must
// not fall back to the old, perhaps laxer, one).
func (w *configWatch) get() (*settings, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	registryChanged, othersChanged := w.snapshot()
	if registryChanged {
		// containers/image caches registries.conf by path for the process.
		sysregistriesv2.InvalidateCache()
	}
	if othersChanged || w.broken != nil {
		s, err := w.load()
		if err != nil {
			w.broken = fmt.Errorf("re-reading the configuration: %w", err)
			return nil, w.broken
		}
		w.current, w.broken = s, nil
	}
	return w.current, nil
}
