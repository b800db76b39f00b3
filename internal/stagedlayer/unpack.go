package stagedlayer

import (
	"io"

	splittar "github.com/vbatts/tar-split/archive/tar"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/tarlog"
)

// unpack writes the tar r into dest. TEMPORARY: storage's archive.Unpack
// without a chroot, not safe against hostile names; replaced by the
// in-root untar.
func unpack(r io.Reader, dest string, options *archive.TarOptions) (idSet, error) {
	ids := newIDSet()
	logger, err := tarlog.NewLogger(func(h *splittar.Header) { ids.add(h.Name, h.Uid, h.Gid) })
	if err != nil {
		return ids, err
	}
	err = archive.Unpack(io.TeeReader(r, logger), dest, options)
	if cerr := logger.Close(); err == nil {
		err = cerr
	}
	return ids, err
}
