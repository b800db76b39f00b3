package engine

// Reclaiming layers no image uses.
//
// containers/image commits an image's layers one by one and creates the
// image last, so a pull that fails or is canceled half-way leaves the
// layers it committed in the store, used by no image (a canceled
// 5,000-layer pull left 2,823 of them). A retry or a later pull of the same
// image reuses them; nothing else ever removes them. Prune does.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"go.podman.io/storage"
)

// DefaultPruneMinAge is the age below which Prune keeps an unused layer
// when PruneOptions.MinAge is zero.
const DefaultPruneMinAge = 10 * time.Minute

// PruneOptions tune Prune.
type PruneOptions struct {
	// MinAge keeps unused layers created less than MinAge ago: they may
	// belong to a pull in flight in another process on the same store,
	// which this Engine cannot see (the image that will use them is created
	// last). Zero: DefaultPruneMinAge. Negative: no age limit, for a store
	// no other process pulls into.
	MinAge time.Duration
}

// PruneReport says what Prune removed.
type PruneReport struct {
	// Layers are the IDs of the layers removed.
	Layers []string
	// Kept counts the unused layers left in place: too young (MinAge),
	// created since a pull of this Engine started, or taken into use
	// meanwhile by another process.
	Kept int
}

// Prune removes the layers of the store that no image and no container
// uses, such as those a failed or canceled pull left behind. It never
// removes a layer created after the start of a pull still in flight in this
// Engine, nor one younger than opts.MinAge (other processes' pulls). A
// layer taken into use while Prune runs is refused by containers/storage,
// which checks under its own lock, and counted as kept.
func (e *Engine) Prune(ctx context.Context, opts PruneOptions) (*PruneReport, error) {
	minAge := opts.MinAge
	if minAge == 0 {
		minAge = DefaultPruneMinAge
	}
	cutoff := time.Now().Add(-max(minAge, 0))
	if start, ok := e.flights.oldestRunning(); ok && start.Before(cutoff) {
		cutoff = start
	}
	orphans, err := e.unusedLayers()
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	// Children before parents: a layer with children cannot be removed.
	for _, l := range orphans {
		if err := ctx.Err(); err != nil {
			return rep, engineerr.FromContext(ctx, err)
		}
		if l.Created.After(cutoff) {
			rep.Kept++
			continue
		}
		err := e.store.DeleteLayer(l.ID)
		switch {
		case err == nil:
			rep.Layers = append(rep.Layers, l.ID)
		case errors.Is(err, storage.ErrLayerUsedByImage), errors.Is(err, storage.ErrLayerUsedByContainer),
			errors.Is(err, storage.ErrLayerHasChildren), errors.Is(err, storage.ErrLayerUnknown):
			rep.Kept++ // taken into use (or removed) by another process meanwhile
		default:
			return rep, fmt.Errorf("removing unused layer %s: %w", l.ID, pullerrors.Wrap(pullerrors.Storage, err))
		}
	}
	e.log.DebugContext(ctx, "pruned unused layers", "removed", len(rep.Layers), "kept", rep.Kept)
	return rep, nil
}

// unusedLayers lists the layers no image or container uses, directly or as
// an ancestor, deepest first.
func (e *Engine) unusedLayers() ([]storage.Layer, error) {
	layers, err := e.store.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	images, err := e.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	containers, err := e.store.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", pullerrors.Wrap(pullerrors.Storage, err))
	}
	byID := make(map[string]*storage.Layer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	used := map[string]bool{}
	markUsed := func(id string) {
		for id != "" && !used[id] {
			used[id] = true
			l := byID[id]
			if l == nil {
				return
			}
			id = l.Parent
		}
	}
	for _, img := range images {
		markUsed(img.TopLayer)
		for _, id := range img.MappedTopLayers {
			markUsed(id)
		}
	}
	for _, c := range containers {
		markUsed(c.LayerID)
	}
	var out []storage.Layer
	for i := range layers {
		if !used[layers[i].ID] {
			out = append(out, layers[i])
		}
	}
	return childrenFirst(out, byID), nil
}

// childrenFirst orders layers deepest first (a child before its parent:
// storage refuses to delete a layer that has children). byID holds every
// layer of the store; a broken parent chain is cut at its length.
func childrenFirst(layers []storage.Layer, byID map[string]*storage.Layer) []storage.Layer {
	depth := func(l *storage.Layer) int {
		n := 0
		for p := l; p != nil && n <= len(byID); p = byID[p.Parent] {
			n++
		}
		return n
	}
	depths := make(map[string]int, len(layers))
	for i := range layers {
		depths[layers[i].ID] = depth(&layers[i])
	}
	slices.SortFunc(layers, func(a, b storage.Layer) int { return depths[b.ID] - depths[a.ID] })
	return layers
}
