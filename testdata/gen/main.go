// Command gen writes the fixtures in testdata/ (internal/fixtures.Set says
// what each holds; testdata/README.md lists them). Run it from the
// repository root:
//
//	go run ./testdata/gen
//
// The output is deterministic and committed; rerun it only after changing
// internal/fixtures. (The go tool skips testdata/ in ./... patterns, so
// this command stays a thin wrapper: the logic, and the test that the
// committed fixtures match it, live in internal/fixtures.)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pullengine/pullengine/internal/fixtures"
)

func main() {
	out := flag.String("o", "testdata", "directory to write the fixtures into")
	flag.Parse()
	if err := fixtures.Generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
