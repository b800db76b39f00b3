// Command benchtable reads `go test -bench` output of the bench module
// (stdin, or the files named) and prints the comparison tables in
// Markdown, as the README's Performance section shows them.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// result is one benchmark line: metric unit → value.
type result map[string]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	results := map[string]result{}
	var in []io.Reader
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = append(in, f)
	}
	if len(in) == 0 {
		in = append(in, os.Stdin)
	}
	for _, r := range in {
		parse(r, results)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(1)
	}
	printTimes(results)
	printFloor(results)
	printRequests(results)
	printMemory(results)
	printResume(results)
}

// printFloor prints BenchmarkColdFloor's figures (bench/floor_test.go):
// the cold pull on overlay against the physical floor of its layers.
func printFloor(results map[string]result) {
	r, ok := results["ColdFloor"]
	if !ok {
		return
	}
	fmt.Println("| cold pull, 5 layers, overlay: wall time (CPU time) | engine | copy.Image | floor, 1 goroutine | floor, 1 per layer | engine/copy | engine/floor | copy/floor | engine/floor-par |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		wallCPU(r, "engine"), wallCPU(r, "copy"), wallCPU(r, "floor"), wallCPU(r, "floor-par"),
		ratios(r, "engine/copy"), ratios(r, "engine/floor"), ratios(r, "copy/floor"), ratios(r, "engine/floor-par"))
	fmt.Println()
	if r, ok := results["ColdLargeFloor"]; ok {
		fmt.Println("| cold pull, 1 GiB (4 layers, generated), overlay: wall time (CPU time) | engine | copy.Image | floor, streamed | staged layer work | engine/copy | engine/floor | copy/floor | staged/copy | staged/floor |")
		fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		fmt.Printf("| | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			wallCPU(r, "engine"), wallCPU(r, "copy"), wallCPU(r, "floor"), wallCPU(r, "staged"),
			ratios(r, "engine/copy"), ratios(r, "engine/floor"), ratios(r, "copy/floor"), ratios(r, "staged/copy"), ratios(r, "staged/floor"))
		fmt.Println()
	}
	fmt.Println("| layer work only (no image record), overlay: wall time (CPU time) | streamed into PutLayer | the same, digests verified in stream | staged, one pass, in parallel | put/copy | put-verify/copy | staged/copy | staged/floor |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Printf("| | %s | %s | %s | %s | %s | %s | %s |\n",
		wallCPU(r, "put"), wallCPU(r, "put-verify"), wallCPU(r, "staged"),
		ratios(r, "put/copy"), ratios(r, "put-verify/copy"), ratios(r, "staged/copy"), ratios(r, "staged/floor"))
	fmt.Println()
	fmt.Println("The floor: the same gzip layers, held in memory, gunzipped (pgzip) and untarred into a directory, then the filesystem synced (syncfs); no registry, hashing, tar-split or storage records.")
	fmt.Println()
}

// printResume prints BenchmarkResume's ratios (bench/resume_test.go).
func printResume(results map[string]result) {
	rows := []struct{ bench, metric, label string }{
		{"Resume/cut90", "engine-refetch/layer", "cut at 90%, pull again: layer bytes fetched again / layer (engine)"},
		{"Resume/cut90", "copy-refetch/layer", "the same with copy.Image (libimage, skopeo: the same)"},
		{"Resume/cut90", "engine-first-new-byte-ms", "ms from the second Pull to the request for the rest, 90% kept"},
		{"Resume/cut10", "engine-first-new-byte-ms", "the same with 10% kept"},
		{"Resume/stall50", "recovery-s", "stall at 50%: s from the stall to the resume, beyond the 1 s watchdog"},
		{"Resume/stall50", "twice/layer", "stall at 50%: bytes fetched twice / layer"},
		{"Resume/norange", "discarded/layer", "registry ignores Range, cut at 50%: bytes discarded / layer (pull succeeds)"},
	}
	printed := false
	for _, row := range rows {
		r, ok := results[row.bench]
		if !ok {
			continue
		}
		if !printed {
			fmt.Println("| resume (one incompressible layer) | value |")
			fmt.Println("|---|---:|")
			printed = true
		}
		v, ok := r[row.metric]
		val := "–"
		if ok {
			val = strconv.FormatFloat(v, 'g', 3, 64)
		}
		fmt.Printf("| %s | %s |\n", row.label, val)
	}
	if printed {
		fmt.Println()
	}
}

// parse reads lines like
// "BenchmarkCold-2  3  123 ns/op  1.5 engine-ms/op ..." into results.
func parse(r io.Reader, results map[string]result) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		res := result{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			res[f[i+1]] = v
		}
		results[name] = res
	}
}

func printTimes(results map[string]result) {
	rows := []struct{ bench, label string }{
		{"Cold", "cold pull, 5 layers (50 MiB of files, 40 MiB gzip), fresh store"},
		{"ColdLarge", "cold pull, 1 GiB (4 layers, generated), fresh store"},
		{"MissingPresent", "`missing`, image present"},
		{"NewerUpToDate", "`newer`, image up to date"},
		{"ConcurrentSame", "16 concurrent pulls of the 5-layer image, one Engine / one Runtime"},
	}
	fmt.Println("| benchmark: wall time (CPU time) | engine | copy.Image (floor) | libimage | engine/copy | engine/libimage |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, row := range rows {
		r, ok := results[row.bench]
		if !ok {
			continue
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", row.label,
			wallCPU(r, "engine"), wallCPU(r, "copy"), wallCPU(r, "libimage"),
			ratios(r, "engine/copy"), ratios(r, "engine/libimage"))
	}
	fmt.Println()
	if r, ok := results["ConcurrentDifferent"]; ok {
		fmt.Println("| 8 different images (2 layers, 6 MiB of files each), fresh store: wall time (CPU time) | engine, one after another | engine, at once | libimage, at once | engine: at once / one after another | engine/libimage, at once |")
		fmt.Println("|---|---:|---:|---:|---:|---:|")
		fmt.Printf("| | %s | %s | %s | %s | %s |\n",
			wallCPU(r, "sequential"), wallCPU(r, "engine"), wallCPU(r, "libimage"),
			ratios(r, "engine/sequential"), ratios(r, "engine/libimage"))
		fmt.Println()
	}
	if r, ok := results["ColdLarge"]; ok && r["put-ms/op"] > 0 {
		fmt.Println("| layer work only (no image record), 1 GiB, vfs: wall time (CPU time) | streamed into PutLayer | the same, digests verified in stream | put/copy | put-verify/copy |")
		fmt.Println("|---|---:|---:|---:|---:|")
		fmt.Printf("| | %s | %s | %s | %s |\n",
			wallCPU(r, "put"), wallCPU(r, "put-verify"), ratios(r, "put/copy"), ratios(r, "put-verify/copy"))
		fmt.Println()
	}
	fmt.Println("Times are means per op. CPU time is the process's and its children's (storage applies layers in a child), registry included: the same share for every contender. A ratio is the median over ops of the engine's figure over the other's in the same op: wall time, then CPU time in parentheses; below 1 the engine is faster.")
	fmt.Println()
}

// wallCPU prints who's mean wall time and, in parentheses, CPU time.
func wallCPU(r result, who string) string {
	wall := ms(r, who+"-ms/op")
	if _, ok := r[who+"-cpu-ms/op"]; !ok || wall == "–" {
		return wall
	}
	return wall + " (" + ms(r, who+"-cpu-ms/op") + ")"
}

// ratios prints the wall-time ratio and, in parentheses, the CPU one.
func ratios(r result, key string) string {
	s := ratio(r, key)
	if _, ok := r[key+"-cpu"]; ok && s != "–" {
		s += " (" + ratio(r, key+"-cpu") + ")"
	}
	return s
}

func printRequests(results map[string]result) {
	rows := []struct{ bench, label string }{
		{"Cold", "cold pull"},
		{"MissingPresent", "`missing`, image present"},
		{"NewerUpToDate", "`newer`, up to date"},
		{"ConcurrentSame", "16 concurrent pulls (all 16 together)"},
	}
	fmt.Println("| registry requests per op | engine | copy.Image | libimage |")
	fmt.Println("|---|---|---|---|")
	for _, row := range rows {
		r, ok := results[row.bench]
		if !ok {
			continue
		}
		fmt.Printf("| %s | %s | %s | %s |\n", row.label, requests(r, "engine"), requests(r, "copy"), requests(r, "libimage"))
	}
	fmt.Println()
}

// requests describes who's requests: "1 ping, 1 manifest HEAD, ...".
func requests(r result, who string) string {
	if _, ok := r[who+"-req/op"]; !ok {
		return "–"
	}
	kinds := []struct{ key, label string }{
		{"ping", "ping"}, {"mhead", "manifest HEAD"}, {"mget", "manifest GET"},
		{"bhead", "blob HEAD"}, {"bget", "blob GET"},
	}
	var parts []string
	for _, k := range kinds {
		if v := r[who+"-"+k.key+"/op"]; v > 0 {
			parts = append(parts, num(v)+" "+k.label)
		}
	}
	if other := r[who+"-req/op"] - sum(r, who, "ping", "mhead", "mget", "bhead", "bget"); other > 0.005 {
		parts = append(parts, num(other)+" other")
	}
	if len(parts) == 0 {
		return "none"
	}
	s := strings.Join(parts, ", ")
	if mb := r[who+"-blobMB/op"]; mb > 0 {
		s += fmt.Sprintf(" (%.1f MiB of blobs", mb)
		if x, ok := r[who+"-xImage/op"]; ok {
			s += fmt.Sprintf(", %.2f× the image", x)
		}
		s += ")"
	}
	return s
}

func sum(r result, who string, keys ...string) float64 {
	var s float64
	for _, k := range keys {
		s += r[who+"-"+k+"/op"]
	}
	return s
}

func printMemory(results map[string]result) {
	var names []string
	for name := range results {
		if strings.HasPrefix(name, "Memory/") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	order := map[string]int{"engine": 0, "copy": 1, "libimage": 2}
	sort.Slice(names, func(i, j int) bool {
		si, sj := strings.Split(names[i], "/"), strings.Split(names[j], "/")
		if si[1] != sj[1] {
			return sizeOf(si[1]) < sizeOf(sj[1])
		}
		return order[si[2]] < order[sj[2]]
	})
	fmt.Println("| memory: image pulled | contender | heap peak | heap growth | RSS growth | layer-apply child RSS |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, name := range names {
		r := results[name]
		parts := strings.Split(name, "/")
		fmt.Printf("| %s, 4 layers | %s | %s | %s | %s | %s |\n", parts[1], parts[2],
			mib(r, "heap-peak-MiB"), mib(r, "heap-growth-MiB"), mib(r, "rss-growth-MiB"), mib(r, "child-rss-MiB"))
	}
	fmt.Println()
}

func sizeOf(s string) float64 {
	for suffix, mult := range map[string]float64{"GiB": 1 << 30, "MiB": 1 << 20} {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(s, suffix), 64); err == nil && strings.HasSuffix(s, suffix) {
			return v * mult
		}
	}
	return 0
}

func ms(r result, key string) string {
	v, ok := r[key]
	switch {
	case !ok:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

func ratio(r result, key string) string {
	if v, ok := r[key]; ok {
		return fmt.Sprintf("%.2f", v)
	}
	return "–"
}

func mib(r result, key string) string {
	if v, ok := r[key]; ok {
		return fmt.Sprintf("%.0f MiB", v)
	}
	return "–"
}

// num prints a per-op count: whole numbers plainly, means with one decimal.
func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
