# The build tags every build and test needs (without them cgo wants gpgme
# and btrfs headers), in one place.
GOTAGS := containers_image_openpgp,exclude_graphdriver_btrfs
export GOFLAGS := -tags=$(GOTAGS)
# containers/storage re-executes the test binary per layer write; under
# -race each child would sleep a second at exit.
export GORACE := atexit_sleep_ms=0

.PHONY: demo test fuzz lint bench

# How much each fuzz target runs: a count of inputs in test, longer by
# hand, e.g. make fuzz FUZZTIME=10m. A count, not a duration: with a
# duration Go 1.26's fuzz coordinator can fail a clean run with "context
# deadline exceeded" as the time runs out (go.dev/issue/75804, fixed in
# Go 1.27); a count sets no deadline to race.
FUZZTIME ?= 5000x
FUZZ_TARGETS := ./engine:FuzzInput ./policy:FuzzParse ./platform:FuzzParse \
	./internal/registryclient:FuzzParseChallenges \
	./errors:FuzzClassify ./httpapi:FuzzRegistryAuthHeader ./httpapi:FuzzPullQuery

# The main job: pull the fixture image into ./.store, with progress.
demo:
	go run ./cmd/pullengine pull --root ./.store oci-archive:testdata/hello.oci.tar

# Everything CI checks: formatting, vet, every test with the race
# detector (the library, the real clients, the reference registry), the
# benchmarks' build, and a short run of every fuzz target. The engine's
# package takes 5-9 minutes under -race on 2 cores, near go test's default
# 10-minute limit per package, hence -timeout.
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 -timeout 20m ./...
	# Peak-RSS bounds, measured without the race detector's shadow memory.
	go test -count=1 -run '^TestCLIHugeErrorBodyPeakRSS$$' ./cmd/pullengine
	cd clients && GOFLAGS=-tags=remote,$(GOTAGS),exclude_graphdriver_devicemapper go vet ./... && GOFLAGS=-tags=remote,$(GOTAGS),exclude_graphdriver_devicemapper go test -count=1 ./...
	cd e2e && go vet ./... && go test -race -count=1 -timeout 20m ./...
	cd bench && go vet ./...
	$(MAKE) fuzz

# Every fuzz target for FUZZTIME; a finding is written under the package's
# testdata/fuzz and fails the run.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $$pkg || exit 1; \
	done

lint:
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The benchmarks against libimage and a bare copy.Image (bench/, a module
# of its own), then their tables; a few minutes. Not part of test.
bench:
	bench/run.sh
