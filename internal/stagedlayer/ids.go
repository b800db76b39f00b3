package stagedlayer

import (
	"maps"
	"path"
	"slices"
	"strings"

	"go.podman.io/storage/pkg/archive"
)

// idSet collects the distinct owner IDs of a tar's entries, as storage's
// PutLayer records them in the layer's UIDs and GIDs: the IDs as written
// in the tar (before any ID map), whiteout entries left out.
type idSet struct{ uids, gids map[uint32]struct{} }

func newIDSet() idSet {
	return idSet{uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
}

// add records the owners of the entry called name.
func (s idSet) add(name string, uid, gid int) {
	if strings.HasPrefix(path.Base(name), archive.WhiteoutPrefix) {
		return
	}
	s.uids[uint32(uid)] = struct{}{} //nolint:gosec // storage records the tar's value as uint32 too
	s.gids[uint32(gid)] = struct{}{} //nolint:gosec
}

// sorted returns the UIDs and GIDs in ascending order.
func (s idSet) sorted() (uids, gids []uint32) {
	return slices.Sorted(maps.Keys(s.uids)), slices.Sorted(maps.Keys(s.gids))
}
