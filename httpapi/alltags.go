package httpapi

import (
	"github.com/pullengine/pullengine/engine"
)

// checkAllTags refuses an allTags request the server does not allow.
func (h *handler) checkAllTags(req *pullRequest) error {
	if req.allTags && h.cfg.maxTags < 0 {
		return badRequestf("allTags is disabled on this server (pull the tags by name)")
	}
	return nil
}

// applyMaxTags sets the server's tag limit on a pull's options.
func (h *handler) applyMaxTags(opts *engine.PullOptions) {
	if h.cfg.maxTags > 0 {
		opts.MaxTags = h.cfg.maxTags
	}
}
