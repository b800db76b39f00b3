// Command pullengine pulls container images into a local containers-storage
// store with the pullengine library.
//
//	pullengine pull [flags] NAME
//
// shows per-blob progress on stderr and prints what happened in one line
// (outcome, reference, image ID). --json streams libpod-compatible JSON
// lines instead, --result prints the whole Result as JSON, --quiet prints
// the image ID only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pullengine/pullengine/engine"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/storage/pkg/reexec"
)

const usage = `usage: pullengine pull [flags] NAME
       pullengine serve [flags]   (libpod's pull API on a socket; serve -h)

NAME is a registry name (alpine, quay.io/x/y:tag, docker://...), an image ID,
or a transport reference (oci-archive:FILE, docker-archive:FILE, oci:DIR[:REF],
dir:DIR, containers-storage:NAME, docker-daemon:NAME).

flags:
`

func main() {
	if reexec.Init() { // layer writes re-execute this binary
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "pull" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return pull(ctx, args[1:], stdout, stderr)
}

type pullFlags struct {
	storeFlags
	policy, platform                          string
	authfile, certDir, creds, tlsVerify       string
	jsonOut, resultOut, quiet, allTags, debug bool
	decryptionKeys                            decryptionKeys // decrypt.go
}

func parseFlags(args []string, stderr io.Writer) (*pullFlags, string, error) {
	var f pullFlags
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&f.policy, "policy", "", "pull policy: always, missing, newer, never (default: containers.conf, else missing)")
	fs.StringVar(&f.platform, "platform", "", "platform os/arch[/variant] to pull from a manifest list")
	f.storeFlags.register(fs)
	fs.StringVar(&f.authfile, "authfile", "", "auth file (containers-auth.json)")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory of certificates for the registry")
	fs.StringVar(&f.creds, "creds", "", "registry credentials USER[:PASSWORD]")
	fs.StringVar(&f.tlsVerify, "tls-verify", "", "true or false: require HTTPS and verify certificates (default: registries.conf)")
	fs.BoolVar(&f.jsonOut, "json", false, "stream progress as JSON lines in libpod's ImagePullReport shape")
	fs.BoolVar(&f.resultOut, "result", false, "print the Result as JSON")
	fs.BoolVar(&f.quiet, "quiet", false, "print the image ID only")
	fs.BoolVar(&f.allTags, "all-tags", false, "pull every tag of the repository")
	fs.BoolVar(&f.debug, "debug", false, "log the engine's steps to stderr")
	fs.Var(&f.decryptionKeys, "decryption-key", decryptionKeyUsage) // decrypt.go
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, "", errors.New("exactly one NAME is needed")
	}
	return &f, fs.Arg(0), nil
}

func pull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, name, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	p, opts, err := f.pullOptions()
	if err != nil {
		fmt.Fprintln(stderr, "pullengine:", err)
		return 2
	}
	e, err := engine.New(f.pullEngineOptions(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "pullengine:", err)
		return 1
	}
	defer e.Close()

	opts.Progress = f.progressSink(stdout, stderr)
	res, err := e.Pull(ctx, name, p, opts)
	if err != nil {
		if !f.jsonOut {
			fmt.Fprintf(stderr, "pullengine: %v (%s, HTTP %d)\n", err, pullerrors.Classify(err), pullerrors.HTTPStatus(err))
		}
		return 1
	}
	if f.quiet {
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, "WARNING:", w)
		}
	}
	return report(stdout, res, f)
}

// progressSink picks the renderer: JSON lines on stdout, nothing when
// quiet, else the terminal renderer on stderr (plain lines when stderr is
// not a terminal).
func (f *pullFlags) progressSink(stdout, stderr io.Writer) progress.Sink {
	switch {
	case f.jsonOut:
		return progress.NewJSONLines(stdout)
	case f.quiet:
		return nil
	default:
		return progress.NewTerminal(stderr)
	}
}

func report(w io.Writer, res *engine.Result, f *pullFlags) int {
	switch {
	case f.resultOut:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return 1
		}
	case f.jsonOut: // the stream's last line said it all
	case f.quiet:
		for _, img := range res.Images {
			fmt.Fprintln(w, img.ID)
		}
	default:
		for _, img := range res.Images {
			fmt.Fprintf(w, "%s %s %s (%s)\n", res.Outcome, res.Reference, img.ID, strings.Join(img.Names, ", "))
		}
	}
	return 0
}

func (f *pullFlags) pullOptions() (policy.Policy, *engine.PullOptions, error) {
	p, err := policy.Parse(f.policy)
	if err != nil {
		return p, nil, err
	}
	opts := &engine.PullOptions{AuthFilePath: f.authfile, CertDir: f.certDir, AllTags: f.allTags}
	if f.platform != "" { // not given: the zero Platform, none
		if opts.Platform, err = platform.Parse(f.platform); err != nil {
			return p, nil, err
		}
	}
	if opts.DecryptionKeys, err = f.decryptionKeys.keys(); err != nil { // decrypt.go
		return p, nil, err
	}
	if f.creds != "" {
		opts.Username, opts.Password, _ = strings.Cut(f.creds, ":")
	}
	switch f.tlsVerify {
	case "":
	case "true", "false":
		v := f.tlsVerify == "true"
		opts.TLSVerify = &v
	default:
		return p, nil, fmt.Errorf("--tls-verify=%q: want true or false", f.tlsVerify)
	}
	return p, opts, nil
}

func (f *pullFlags) pullEngineOptions(stderr io.Writer) engine.Options {
	o := f.storeFlags.engineOptions()
	if f.debug {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}
