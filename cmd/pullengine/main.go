// Command pullengine pulls container images into a local containers-storage
// store with the pullengine library.
//
//	pullengine pull [flags] NAME [flags]
//	pullengine serve [flags]
//
// pull takes podman pull's flags (-q, -a/--all-tags, --arch/--os/--variant,
// --policy, --tls-verify, --creds, --authfile, --retry, --retry-delay, ...),
// shows per-blob progress on stderr and prints what happened in one line
// (outcome, reference, image ID). --json streams libpod-compatible JSON
// lines instead, --result prints the whole Result as JSON, --quiet prints
// the image ID only.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/pullengine/pullengine/engine"
	"github.com/sirupsen/logrus"
)

const usage = `Usage:
  pullengine pull [flags] NAME    pull an image into the store (pullengine pull --help)
  pullengine serve [flags]        libpod's pull API on a socket (pullengine serve -h)
  pullengine --version
`

func main() {
	if engine.Init() { // layer writes re-execute this binary
		return
	}
	// containers/storage and containers/image log through logrus's global
	// logger; this program owns it: warnings only, unless --debug.
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetOutput(os.Stderr)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, args[1:], stdout, stderr)
	case "pull":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return pull(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-v", "--version", "version":
		printVersion(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "pullengine: unknown command %q\n%s", args[0], usage)
	return 2
}

// printVersion prints the module version the binary was built from.
func printVersion(w io.Writer) {
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	fmt.Fprintln(w, "pullengine version", version)
}
