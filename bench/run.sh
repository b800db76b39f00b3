#!/usr/bin/env bash
# Runs the benchmarks of this module and prints the tables of the README's
# Performance section. Run it through `make bench` at the repository root,
# which sets the build tags (GOFLAGS). About eight to ten minutes on 2 cores.
# BENCH_PARTIAL sets the -benchtime of the partial-pull benchmark (default 2x),
# BENCH_PARTIAL_MB and BENCH_PARTIAL_RATE its image size and link (see
# partial_test.go); its lines go to bench/out/partial.txt and are printed last.
# BENCH_QUICK, BENCH_COLD, BENCH_FLOOR, BENCH_LARGE, BENCH_LARGE_FLOOR, BENCH_CONCURRENT, BENCH_DIFFERENT and BENCH_PARALLEL
# override the -benchtime of each group (e.g. BENCH_COLD=3x for a quick look);
# BENCH_RESUME_MIB sets the layer size of the resume benchmark (512).
#
# Each memory benchmark runs in a process of its own: peak RSS is per
# process. The raw `go test -bench` output is kept in bench/out/bench.txt.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out
go test -c -o out/bench.test .

out=out/bench.txt
: >"$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run() { ./out/bench.test -test.run '^$' "$@" | tee -a "$out"; }

run -test.bench '^Benchmark(MissingPresent|NewerUpToDate)$' -test.benchtime "${BENCH_QUICK:-1s}"
run -test.bench '^BenchmarkCold$' -test.benchtime "${BENCH_COLD:-12x}"
# Overlay: engine, copy.Image and the physical floor of the same layers.
run -test.bench '^BenchmarkColdFloor$' -test.benchtime "${BENCH_FLOOR:-8x}"
run -test.bench '^BenchmarkColdLarge$' -test.benchtime "${BENCH_LARGE:-3x}"
run -test.bench '^BenchmarkColdLargeFloor$' -test.benchtime "${BENCH_LARGE_FLOOR:-2x}"
run -test.bench '^BenchmarkConcurrentSame$' -test.benchtime "${BENCH_CONCURRENT:-6x}"
run -test.bench '^BenchmarkConcurrentDifferent$' -test.benchtime "${BENCH_DIFFERENT:-9x}"
run -test.bench '^BenchmarkParallelDownloads$' -test.benchtime "${BENCH_PARALLEL:-6x}"
# One iteration: a 512 MiB layer (BENCH_RESUME_MIB) cut, stalled, range ignored.
run -test.bench '^BenchmarkResume$' -test.benchtime 1x
for size in 256MiB 1GiB; do
	for who in engine copy libimage engine-overlay; do
		run -test.bench "^BenchmarkMemory/$size/$who\$" -test.benchtime 1x
	done
done

echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), Linux $(uname -r), $(go version | cut -d' ' -f3), vfs on $(df -T . | awk 'NR==2 {print $2}'); load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo
go run ./cmd/benchtable "$out"

echo
echo "Partial pulls (zstd:chunked, overlay), BENCH_PARTIAL_MB=${BENCH_PARTIAL_MB:-24} BENCH_PARTIAL_RATE=${BENCH_PARTIAL_RATE:-10} MiB/s:"
./out/bench.test -test.run '^$' -test.bench '^BenchmarkPartialPull$' -test.benchtime "${BENCH_PARTIAL:-2x}" | tee out/partial.txt
