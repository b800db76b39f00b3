package localsource

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/engineerr"
	"go.podman.io/image/v5/pkg/compression"
	"golang.org/x/sys/unix"
)

// Bounds of a layout mirrored into the private directory: an OCI layout is
// index.json, oci-layout and blobs/ALG/HEX (depth 3); dir: is flat.
const (
	maxDepth   = 8
	maxEntries = 100_000
	// copyBelow: files smaller than this are copied (index.json,
	// manifests: what the transport reads whole into memory stays as
	// checked); larger ones are hard-linked.
	copyBelow = 1 << 20
)

// copier makes one private copy, within its byte budget.
type copier struct {
	ctx     context.Context
	left    int64 // bytes the copy may still write
	max     int64 // the budget; zero means none
	entries int
	shown   string // the source as the client named it
}

// tree mirrors the directory fd into dst; rel is its path within the
// source, for messages.
func (c *copier) tree(fd int, dst, rel string, depth int) error {
	if depth > maxDepth {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "%s: %s is nested deeper than %d directories", c.shown, rel, maxDepth)
	}
	dir, err := reopen(fd, true)
	if err != nil {
		return openError(path.Join(c.shown, rel), err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("listing %s: %w", path.Join(c.shown, rel), pullerrors.Wrap(pullerrors.Storage, err))
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return fmt.Errorf("making a private copy of %s: %w", c.shown, pullerrors.Wrap(pullerrors.Storage, err))
	}
	for _, name := range names {
		if err := c.entry(int(dir.Fd()), name, path.Join(dst, name), path.Join(rel, name), depth); err != nil {
			return err
		}
	}
	return nil
}

// entry mirrors one entry of a directory: a directory recursively, a
// regular file copied or linked; anything else is refused.
func (c *copier) entry(dirFD int, name, dst, rel string, depth int) error {
	if err := c.ctx.Err(); err != nil {
		return engineerr.FromContext(c.ctx, err)
	}
	if c.entries++; c.entries > maxEntries {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "%s holds more than %d files", c.shown, maxEntries)
	}
	fd, st, err := openBeneath(dirFD, name)
	if err != nil {
		return openError(path.Join(c.shown, rel), err)
	}
	defer unix.Close(fd)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.tree(fd, dst, rel, depth+1)
	case unix.S_IFREG:
		return c.file(fd, st.Size, dst, rel)
	}
	return pullerrors.Errorf(pullerrors.InvalidArgument, "%s: %s is %s: a layout holds only directories and regular files", c.shown, rel, describeMode(st.Mode))
}

// file puts the regular file fd at dst: a hard link to the same inode for
// a large file (its bytes are checked by digest when read), else a copy.
func (c *copier) file(fd int, size int64, dst, rel string) error {
	if size >= copyBelow && unix.Linkat(unix.AT_FDCWD, procPath(fd), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW) == nil {
		return nil
	}
	f, err := reopen(fd, false)
	if err != nil {
		return openError(path.Join(c.shown, rel), err)
	}
	defer f.Close()
	return c.write(f, dst)
}

// decompress writes the archive fd, decompressed, to dst.
func (c *copier) decompress(fd int, dst string) error {
	f, err := reopen(fd, false)
	if err != nil {
		return openError(c.shown, err)
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return fmt.Errorf("decompressing %s: %w", c.shown, pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	defer r.Close()
	return c.write(r, dst)
}

// write copies r to a new file dst, within the budget, stopping when the
// context ends.
func (c *copier) write(r io.Reader, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("making a private copy of %s: %w", c.shown, pullerrors.Wrap(pullerrors.Storage, err))
	}
	_, err = io.Copy(out, &budgetReader{c: c, r: r})
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("making a private copy of %s: %w", c.shown, pullerrors.Wrap(pullerrors.Storage, cerr))
	}
	return err
}

// budgetReader reads r while the copier's budget and context last.
type budgetReader struct {
	c *copier
	r io.Reader
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if err := b.c.ctx.Err(); err != nil {
		return 0, engineerr.FromContext(b.c.ctx, err)
	}
	if b.c.max > 0 && int64(len(p)) > b.c.left+1 {
		p = p[:b.c.left+1]
	}
	n, err := b.r.Read(p)
	if b.c.max > 0 {
		if b.c.left -= int64(n); b.c.left < 0 {
			return 0, engineerr.Final(pullerrors.Errorf(pullerrors.Unsupported, "%s is larger than the %d bytes this server copies for a local source", b.c.shown, b.c.max))
		}
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading %s: %w", b.c.shown, pullerrors.Wrap(pullerrors.InvalidArgument, err))
	}
	return n, err
}

// isCompressed reports whether the file fd starts with a compression
// format's magic.
func isCompressed(fd int) (bool, error) {
	f, err := reopen(fd, false)
	if err != nil {
		return false, err
	}
	defer f.Close()
	algo, _, _, err := compression.DetectCompressionFormat(f)
	if err != nil {
		return false, err
	}
	return algo.Name() != "", nil
}
