// Package httpapi serves the pull endpoint of Podman's libpod REST API over
// an [engine.Engine], so that existing Podman clients — podman --remote,
// Podman's Go bindings, podman-py, bootc — pull through pullengine unchanged.
//
// [NewHandler] answers:
//
//	POST     /libpod/images/pull, /v{version}/libpod/images/pull
//	GET|HEAD /_ping, /libpod/_ping, /v{version}/_ping, /v{version}/libpod/_ping
//	GET      /version, /libpod/version, /v{version}/version, /v{version}/libpod/version
//
// and 404 with libpod's error body for every other path. {version} is the
// client's own version ("v5.8.0"); any is accepted.
//
// # The pull endpoint
//
// Query parameters are libpod's, matched case-insensitively as Podman's
// decoder does (the Go bindings send them in lower case):
//
//	reference     the image to pull (required; registry names and image IDs,
//	              and local transports the operator allowed: Options.AllowedPaths,
//	              engine.Options.AllowedStores; at most MaxReferenceLength bytes)
//	policy        always (the default, as libpod), missing, newer, never
//	Arch, OS, Variant  the platform to choose from a manifest list
//	tlsVerify     false to skip TLS verification (default: registries.conf)
//	allTags       pull every tag of the repository
//	retry         retries of a transient failure (default: containers.conf;
//	              at most Options.MaxRetries, DefaultMaxRetries by default)
//	retryDelay    the first retry's delay, a Go duration ("2s")
//	quiet         answer once, when the pull is over
//	pullProgress  add per-blob progress lines
//	compatMode    Docker-style progress messages
//
// Credentials come in the X-Registry-Auth header (base64url JSON), as one
// set of credentials ({"username","password"} or {"identitytoken"}) or as a
// map from registry to credentials ({"quay.io":{...},...}, which replaces
// the engine's auth file for the pull, as in Podman); X-Registry-Config is
// accepted too. Credentials are never logged nor echoed.
//
// # Status codes
//
// Podman (since PR #28109) delays the response's first byte until the pull
// reports progress, or 5 seconds have passed, to answer a failed pull with
// an error status rather than 200. This handler waits for proof that the
// registry answered and the platform was chosen — the first blob transfer
// starting or being skipped, or the pull being over — however long that
// takes, so not-found, authentication, rate-limit and platform errors
// always carry their exact status:
//
//	invalid parameters, bad reference       400 before any pull
//	a browser's request (Origin,            403 before any pull
//	Sec-Fetch-Site), a foreign Host
//	(Options.HostCheck), a local path or
//	store not allowed
//	more pulls than                         429 with Retry-After, before any pull
//	Options.MaxConcurrentPulls
//	failure before any blob moved           the classified status (pullerrors.HTTPStatus)
//	                                        with libpod's body {"cause","message","response"}
//	failure after streaming began           200, then a final line
//	                                        {"status":"error","error":...,"errorKind":...,"errorStatus":...}
//	success                                 200, then {"status":"success","images":[...],"id":...}
//
// A pull canceled before streaming (its client left, or the server shut
// down and canceled the pulls in flight) answers 503; a Retry-After the
// error carries is passed on. compatMode answers failures before any
// progress with Docker's body, {"message": <root cause>}.
//
// With quiet=true the answer is one JSON object, {"images":[...],"id":...},
// or the error body with its status.
//
// Input echoed in an answer or a log line (a long reference, a parameter)
// is cut to a few hundred bytes; credentials in a reference
// ("user:secret@host/app") show as xxxxx.
//
// # Encrypted images
//
// Like libpod's, the endpoint takes no decryption keys, and the handler
// configures none: an image with encrypted (ocicrypt) layers fails with a
// decryption error (pullerrors.Decryption) that names the layer and the
// image: 422 with quiet=true, else a final error line with errorKind
// "decryption" and errorStatus 422, since the layer is fetched after
// streaming began. Pull such images with the library
// (PullOptions.DecryptionKeys) or `pullengine pull --decryption-key`.
//
// A client that disconnects cancels its pull; the pull leaves no image
// behind under the name.
package httpapi
