package httpapi

import (
	"github.com/pullengine/pullengine/engine"
)

// WithMaxTags bounds the pulls of every tag of a repository (allTags=true):
// n > 0 refuses a repository with more than n tags (the engine's
// PullOptions.MaxTags); n < 0 refuses allTags altogether (400). Zero, the
// default, leaves the engine's limit (engine.DefaultMaxTags). Either way the
// engine bounds the listing's pages and bytes.
func WithMaxTags(n int) Option {
	return func(c *config) { c.maxTags = n }
}

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
