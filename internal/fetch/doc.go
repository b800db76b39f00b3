// Package fetch reads one registry blob, whole and verified, for both
// readers of blobs in the engine: the source that containers/image's
// copy.Image reads through (engine/source.go) and the cold-pull fast path.
//
// The model is containerd's fetcher: the reader knows the blob (digest and
// declared size) and one seam, an Opener that returns the blob's bytes
// from an offset. Which registry, mirror, credentials and TLS settings
// answer is the Opener's business, decided once by its maker; this package
// needs nothing else of the Engine. Around the seam it adds:
//
//   - resume: the bytes are kept as they arrive (internal/blobresume, with
//     the saved hash state); an interrupted blob continues from the kept
//     prefix, in this attempt, a later one or after a restart, and the
//     prefix is replayed from disk to the consumer so that the stream
//     always starts at byte 0;
//   - a stall watchdog: a connection that delivers nothing for
//     Config.Stall is dropped and replaced (a registry that never answers
//     is a stall too);
//   - ranged reconnects, with a bound on reconnects that make no progress
//     (see the "Progress rule" below);
//   - the declared size: a body announced or found longer than the blob's
//     declared size is an Integrity error, never retried;
//   - the digest of a resumed blob is checked before its last byte is
//     handed on (a first download is verified by its consumer);
//   - Limits on what a layer unpacks to (Counter), by counting a
//     decompression of the bytes as they pass.
//
// # Calling it (the fast path)
//
// One call per blob:
//
//	rc, size, err := fetch.Open(ctx, fetch.Blob{
//		Digest: d, Size: declared,
//		Open:   fetch.Ranged(clients, d, declared, whole, log),
//		Layer:  true, // counted by cfg.Counter
//	}, cfg)
//
// where whole opens the blob from byte 0 (for instance containers/image's
// ImageSource.GetBlob, which follows mirrors, or a GET through the same
// registryclient), clients returns registryclient.ForPull's clients for ranged resumes
// (once; see wrappedSource.rangeClients in engine/source.go) and cfg is
// Engine.fetchConfig(rep, &suspect) (partial store, stall timeout,
// progress callbacks), with Counter set from Limits when they count bytes.
// Read rc to its io.EOF: the bytes are the blob's, from offset 0, and a
// resumed blob's digest has been checked. Close it in every case: before
// its end, Close keeps what arrived for the next attempt. Errors are
// classified (pullerrors kinds): Integrity for a blob that is too long or
// hashes wrong (its partial is discarded), Timeout for a stall, Unavailable
// and the like for a registry that stopped answering, and the last error
// of the Opener otherwise.
//
// # Progress rule
//
// A broken or stalled connection is replaced by a ranged request for the
// rest. A connection counts as progress when it brought at least
// MinProgress (1 MiB) new bytes: bytes the partial did not hold yet, so
// the bytes a 200 answer to a ranged request sends again, which are
// discarded, do not count. After MaxReconnects connections in a row
// without progress the blob fails with the last connection's error
// (Unavailable, or Timeout for a stall), its bytes kept for the next
// attempt. So a registry that sends one byte per connection, ends every
// answer early, or cuts a blob one byte before its end costs at most
// MaxReconnects+1 GETs per attempt, never a loop only the caller's
// deadline ends. A slow link whose connections break before 1 MiB still
// gets there: each attempt (the caller's retries) resumes from what the
// last one kept. containers/image's own reconnect also accepts a
// connection that lasted 60 s as progress; we do not, so that a registry
// trickling one byte a minute cannot hold a pull for ever.
package fetch
