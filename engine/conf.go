package engine

import (
	"fmt"
	"time"

	"github.com/BurntSushi/toml"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/common/pkg/config"
)

// hostConf is what the engine takes from containers.conf: read in New, and
// again by configWatch (reload.go) when the file changes.
type hostConf struct {
	pullPolicy policy.Policy // Missing when unset
	retries    int
	retryDelay time.Duration // fixed delay between retries; 0: backoff from one second
	// parallelCopies bounds concurrent layer downloads per pull; 0 lets
	// containers/image choose.
	parallelCopies uint
}

// engineSection mirrors the keys of containers.conf [engine] we use.
type engineSection struct {
	PullPolicy          string `toml:"pull_policy"`
	Retry               *uint  `toml:"retry"`
	RetryDelay          string `toml:"retry_delay"`
	ImageParallelCopies uint   `toml:"image_parallel_copies"`
}

// loadHostConf reads path, or the host's containers.conf files when path is
// empty. Podman's defaults apply to what is unset: pull_policy missing,
// retry 3.
func loadHostConf(path string) (hostConf, error) {
	sec, err := readEngineSection(path)
	if err != nil {
		return hostConf{}, fmt.Errorf("reading containers.conf: %w", pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	c := hostConf{pullPolicy: policy.Missing, retries: 3, parallelCopies: sec.ImageParallelCopies}
	if sec.PullPolicy != "" {
		p, err := policy.Parse(sec.PullPolicy)
		if err != nil {
			return hostConf{}, fmt.Errorf("containers.conf pull_policy: %w", err)
		}
		if p != policy.Default {
			c.pullPolicy = p
		}
	}
	if sec.Retry != nil {
		c.retries = int(*sec.Retry)
	}
	if sec.RetryDelay != "" {
		d, err := time.ParseDuration(sec.RetryDelay)
		if err != nil {
			return hostConf{}, fmt.Errorf("containers.conf retry_delay %q: %w", sec.RetryDelay, pullerrors.Wrap(pullerrors.InvalidArgument, err))
		}
		c.retryDelay = d
	}
	return c, nil
}

func readEngineSection(path string) (engineSection, error) {
	if path == "" {
		cfg, err := config.New(nil)
		if err != nil {
			return engineSection{}, err
		}
		retry := cfg.Engine.Retry
		return engineSection{
			PullPolicy:          cfg.Engine.PullPolicy,
			Retry:               &retry,
			RetryDelay:          cfg.Engine.RetryDelay,
			ImageParallelCopies: cfg.Engine.ImageParallelCopies,
		}, nil
	}
	var file struct {
		Engine engineSection `toml:"engine"`
	}
	if _, err := toml.DecodeFile(path, &file); err != nil {
		return engineSection{}, err
	}
	return file.Engine, nil
}
