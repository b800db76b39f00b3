// Package stagedlayer is the fast path's layer differ: a
// graphdriver.Differ for containers/storage's staged-layer API
// (Store.PrepareStagedLayer, then Store.ApplyStagedLayer) that reads one
// layer blob once and, in that single pass, decompresses it, hashes the
// compressed bytes (the blob digest) and the tar (the diff ID), records the
// tar-split storage keeps to rebuild the layer, and unpacks the tar into
// the staging directory.
//
// The model: storage's own PutLayer untars in a chrooted child process.
// This differ runs in the caller's process with no chroot, so it resolves
// every directory it writes into beneath the staging directory with the
// kernel's help (openat2 RESOLVE_BENEATH, or os.Root's component-by-
// component walk where the kernel lacks openat2) and never by looking at
// the name's text. An entry that would reach outside, through "..", an
// absolute name or a symlink, is an error wrapping ErrUnsafePath (see
// resolve.go for why it is refused rather than re-rooted).
//
// The tree it writes is the one the overlay driver's own ApplyDiff writes
// for the same tar: whiteouts as 0:0 character devices, opaque directories
// as the trusted.overlay.opaque (or user.overlay.opaque) xattr, owners
// mapped through the store's ID maps, xattrs, modes and times.
//
// Nothing is trusted before both digests match: ApplyDiff returns an
// error wrapping ErrDigestMismatch otherwise, and the caller removes the
// staging directory with Store.CleanupStagedLayer.
package stagedlayer
