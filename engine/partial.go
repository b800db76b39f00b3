package engine

import (
	"fmt"
	"log/slog"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
	storagetypes "go.podman.io/storage/types"
)

// Partial pulls (zstd:chunked).
//
// A zstd:chunked or eStargz layer carries a table of contents; with partial
// pulls on, containers/storage reads it first and fetches only the files
// the store does not already hold, in one multi-range request, and
// containers/image falls back to fetching the whole blob when the registry
// cannot serve ranges or the layer has no table of contents. Storage keeps
// the switch in its pull options (storage.conf
// [storage.options.pull_options] enable_partial_images, off by default) and
// only the overlay driver can apply such a layer; any other driver silently
// fetches whole blobs.
//
// Options.PartialPulls makes the switch explicit:
//
//   - OptionalBoolUndefined (the zero value): storage.conf decides. If it
//     enables partial pulls on a driver other than overlay, New logs a
//     warning and pulls fetch whole blobs.
//   - OptionalBoolTrue: partial pulls on. New fails with InvalidArgument
//     when the store's driver is not overlay, since the switch would have
//     no effect, and when Options.Store is a store opened without
//     enable_partial_images (its pull options cannot be changed after it is
//     opened).
//   - OptionalBoolFalse: partial pulls off, whatever storage.conf says.
//     With Options.Store, the store must not enable them either.

// pullOptionPartial is storage's pull option that enables partial pulls.
const pullOptionPartial = "enable_partial_images"

// partialDriver is the only graph driver that can apply a partial layer.
const partialDriver = "overlay"

// applyPartialPulls sets the store options' pull options from
// Options.PartialPulls, keeping the other pull options (use_hard_links,
// convert_images, ...) that storage.conf gave. The map is copied: it may be
// storage's cached default.
func applyPartialPulls(so *storagetypes.StoreOptions, want types.OptionalBool) {
	if want == types.OptionalBoolUndefined {
		return
	}
	pull := make(map[string]string, len(so.PullOptions)+1)
	for k, v := range so.PullOptions {
		pull[k] = v
	}
	pull[pullOptionPartial] = fmt.Sprint(want == types.OptionalBoolTrue)
	so.PullOptions = pull
}

// partialPullsEnabled reports whether store's pull options enable partial
// pulls, as containers/storage reads them.
func partialPullsEnabled(store storage.Store) bool {
	return strings.EqualFold(store.PullOptions()[pullOptionPartial], "true")
}

// partialPullsActive reports whether the store fetches zstd:chunked layers
// partially: enabled, and on the one driver that can apply them.
func partialPullsActive(store storage.Store) bool {
	return partialPullsEnabled(store) && store.GraphDriverName() == partialDriver
}

// checkPartialPulls checks, once the store is open, that Options.PartialPulls
// can take effect on it; see the comment at the top of this file.
func checkPartialPulls(store storage.Store, want types.OptionalBool, log *slog.Logger) error {
	on := partialPullsEnabled(store)
	driver := store.GraphDriverName()
	switch {
	case want != types.OptionalBoolUndefined && on != (want == types.OptionalBoolTrue):
		return pullerrors.Wrap(pullerrors.InvalidArgument, fmt.Errorf(
			"Options.PartialPulls is %s, but the store was opened with pull_options %s=%q; set it where the store is opened",
			onOff(want == types.OptionalBoolTrue), pullOptionPartial, store.PullOptions()[pullOptionPartial]))
	case on && driver != partialDriver && want == types.OptionalBoolTrue:
		return pullerrors.Wrap(pullerrors.InvalidArgument, fmt.Errorf(
			"Options.PartialPulls needs the %s storage driver, the store uses %q", partialDriver, driver))
	case on && driver != partialDriver:
		log.Warn("storage.conf enables partial pulls, but only the overlay driver supports them; pulls fetch whole layers",
			"driver", driver)
	}
	return nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
