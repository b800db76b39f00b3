# The build tags every build and test needs (without them cgo wants gpgme
# and btrfs headers), in one place.
GOTAGS := containers_image_openpgp,exclude_graphdriver_btrfs
export GOFLAGS := -tags=$(GOTAGS)
# containers/storage re-executes the test binary per layer write; under
# -race each child would sleep a second at exit.
export GORACE := atexit_sleep_ms=0

.PHONY: demo test lint bench

# The main job: pull the fixture image into ./.store, with progress.
demo:
	go run ./cmd/pullengine pull --root ./.store oci-archive:testdata/hello.oci.tar

# Everything CI checks: formatting, vet, and every test with the race
# detector.
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...
	cd clients && GOFLAGS=-tags=remote,$(GOTAGS),exclude_graphdriver_devicemapper go vet ./... && GOFLAGS=-tags=remote,$(GOTAGS),exclude_graphdriver_devicemapper go test -count=1 ./...
	cd e2e && go vet ./... && go test -race -count=1 ./...
	cd bench && go vet ./...

lint:
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The benchmarks against libimage and a bare copy.Image (bench/, a module
# of its own), then their tables; a few minutes. Not part of test.
bench:
	bench/run.sh
