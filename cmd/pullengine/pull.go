package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
	"github.com/pullengine/pullengine/progress"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"go.podman.io/image/v5/transports/alltransports"
	"golang.org/x/term"
)

const pullUsage = `Usage: pullengine pull [flags] NAME

NAME is a registry name (alpine, quay.io/x/y:tag, docker://...), an image ID,
or a transport reference (oci-archive:FILE, docker-archive:FILE, oci:DIR[:REF],
dir:DIR, containers-storage:NAME, docker-daemon:NAME). Flags may follow NAME.

--policy is the pull policy, as in podman pull (--pull, its podman run/build
spelling, is accepted too); the policy.json path is --signature-policy (what
skopeo calls --policy).

Flags:
`

// errUsage marks an argument error: exit 2, with the reason.
var errUsage = errors.New("usage")

type pullFlags struct {
	storeFlags
	policy, pull, platform, arch, os, variant string
	certDir, creds                            string
	tlsVerify                                 bool
	retry                                     uint
	retryDelay                                string
	jsonOut, resultOut, quiet, allTags, debug bool
	version                                   bool
	decryptionKeys                            decryptionKeys // decrypt.go

	fs *pflag.FlagSet
}

// newPullFlagSet declares pull's flags, in podman pull's shape.
func newPullFlagSet(f *pullFlags, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("pull", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&f.policy, "policy", "", "pull policy: always, missing, newer, never (default: containers.conf pull_policy, else missing)")
	fs.StringVar(&f.pull, "pull", "", "the same as --policy (podman run/build spelling)")
	fs.StringVar(&f.platform, "platform", "", "platform os/arch[/variant] to pull from a manifest list")
	fs.StringVar(&f.arch, "arch", "", "architecture to pull from a manifest list (instead of the host's)")
	fs.StringVar(&f.os, "os", "", "operating system to pull from a manifest list (instead of the host's)")
	fs.StringVar(&f.variant, "variant", "", "architecture variant to pull from a manifest list")
	fs.BoolVarP(&f.allTags, "all-tags", "a", false, "pull every tag of the repository")
	f.storeFlags.register(fs)
	fs.StringVar(&f.certDir, "cert-dir", "", "directory of certificates for the registry")
	fs.StringVar(&f.creds, "creds", "", "registry credentials USER[:PASSWORD]; without a password it is asked on the terminal")
	fs.BoolVar(&f.tlsVerify, "tls-verify", false, "require HTTPS and verify certificates; --tls-verify=false turns both off (default: registries.conf, which verifies unless the registry is marked insecure)")
	fs.Var(&f.decryptionKeys, "decryption-key", decryptionKeyUsage) // decrypt.go
	fs.UintVar(&f.retry, "retry", 0, "retries of a transient failure (default: containers.conf retry, else 3)")
	fs.StringVar(&f.retryDelay, "retry-delay", "", "fixed delay between retries, e.g. 2s (default: containers.conf retry_delay, else 1s doubling)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print the image ID only, no progress")
	fs.BoolVar(&f.jsonOut, "json", false, "stream progress as JSON lines in libpod's ImagePullReport shape")
	fs.BoolVar(&f.resultOut, "result", false, "print the Result as JSON")
	fs.BoolVar(&f.debug, "debug", false, "log the engine's steps (and containers/storage's) to stderr")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.Usage = func() { fmt.Fprint(stderr, pullUsage); fs.PrintDefaults() }
	return fs
}

// parseFlags parses pull's arguments. help is true for -h/--help (the
// usage is then printed on stdout); an argument error is errUsage-wrapped
// with the reason.
func parseFlags(args []string, stdout, stderr io.Writer) (f *pullFlags, name string, help bool, err error) {
	f = &pullFlags{}
	f.fs = newPullFlagSet(f, io.Discard)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, pullUsage)
			f.fs.SetOutput(stdout)
			f.fs.PrintDefaults()
			return nil, "", true, nil
		}
		return nil, "", false, fmt.Errorf("%w: %v", errUsage, err)
	}
	if f.version {
		return f, "", false, nil
	}
	if f.fs.NArg() != 1 {
		return nil, "", false, fmt.Errorf("%w: exactly one NAME is needed, got %d: %q", errUsage, f.fs.NArg(), f.fs.Args())
	}
	if err := f.check(); err != nil {
		return nil, "", false, fmt.Errorf("%w: %v", errUsage, err)
	}
	return f, f.fs.Arg(0), false, nil
}

// check refuses flags that contradict each other.
func (f *pullFlags) check() error {
	outputs := []string{}
	for name, set := range map[string]bool{"--json": f.jsonOut, "--result": f.resultOut, "--quiet": f.quiet} {
		if set {
			outputs = append(outputs, name)
		}
	}
	if len(outputs) > 1 {
		slices.Sort(outputs)
		return fmt.Errorf("%s choose different outputs; use one", strings.Join(outputs, " and "))
	}
	if f.policy != "" && f.pull != "" && !strings.EqualFold(f.policy, f.pull) {
		return fmt.Errorf("--policy %s and --pull %s disagree; use one", f.policy, f.pull)
	}
	if f.platform != "" && (f.arch != "" || f.os != "" || f.variant != "") {
		return errors.New("--platform cannot be combined with --arch, --os or --variant")
	}
	return nil
}

func pull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, name, help, err := parseFlags(args, stdout, stderr)
	switch {
	case help:
		return 0
	case err != nil:
		return usageError(stderr, err)
	case f.version:
		printVersion(stdout)
		return 0
	}
	if err := plainPathHint(name); err != nil {
		return usageError(stderr, err)
	}
	p, opts, err := f.pullOptions(stderr)
	if err != nil {
		return usageError(stderr, err)
	}
	if f.debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	e, err := engine.New(f.pullEngineOptions(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "Error:", progress.Sanitize(err.Error()))
		return 1
	}
	defer e.Close()

	opts.Progress = f.progressSink(stdout, stderr)
	res, err := e.Pull(ctx, name, p, opts)
	if err != nil {
		// The terminal renderer and the JSON lines said it already.
		if opts.Progress == nil {
			fmt.Fprintln(stderr, "Error:", progress.Sanitize(err.Error()))
		}
		return 1
	}
	if f.quiet {
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, "WARNING:", progress.Sanitize(w))
		}
	}
	return report(stdout, res, f)
}

// usageError prints an argument error with its reason and a pointer to the
// help, and returns exit code 2.
func usageError(stderr io.Writer, err error) int {
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(stderr, "pullengine pull: %s\nSee 'pullengine pull --help'.\n", msg)
	return 2
}

// plainPathHint refuses a NAME without a transport that is a file or a
// directory here: it would be read as a registry name and sent to a
// registry. The error says which prefix to use.
func plainPathHint(name string) error {
	if alltransports.TransportFromImageName(name) != nil {
		return nil
	}
	if !strings.ContainsRune(name, os.PathSeparator) && !strings.HasSuffix(name, ".tar") && !strings.HasSuffix(name, ".tar.gz") && !strings.HasSuffix(name, ".tgz") {
		return nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a local directory, not an image name: pull it as oci:%s (an OCI layout) or dir:%s", name, name, name)
	}
	return fmt.Errorf("%s is a local file, not an image name: pull it as oci-archive:%s or docker-archive:%s", name, name, name)
}

// progressSink picks the renderer: JSON lines on stdout, nothing when
// quiet, else the terminal renderer on stderr (plain lines when stderr is
// not a terminal).
func (f *pullFlags) progressSink(stdout, stderr io.Writer) progress.Sink {
	switch {
	case f.jsonOut:
		return progress.NewJSONLines(stdout, nil)
	case f.quiet:
		return nil
	default:
		return progress.NewTerminal(stderr, nil)
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
			fmt.Fprintln(w, progress.Sanitize(fmt.Sprintf("%s %s %s (%s)", res.Outcome, res.Reference, img.ID, strings.Join(img.Names, ", "))))
		}
	}
	return 0
}

// pullOptions turns the flags into the pull's policy and options.
func (f *pullFlags) pullOptions(stderr io.Writer) (policy.Policy, *engine.PullOptions, error) {
	word := f.policy // check made sure --pull agrees when both are set
	if word == "" {
		word = f.pull
	}
	p, err := policy.Parse(word)
	if err != nil {
		return p, nil, err
	}
	opts := &engine.PullOptions{AuthFilePath: f.authfile, CertDir: f.certDir, AllTags: f.allTags}
	if opts.Platform, err = f.parsePlatform(); err != nil {
		return p, nil, err
	}
	if opts.DecryptionKeys, err = f.decryptionKeys.keys(); err != nil { // decrypt.go
		return p, nil, err
	}
	if f.creds != "" {
		if opts.Username, opts.Password, err = credentials(f.creds, stderr); err != nil {
			return p, nil, err
		}
	}
	if f.fs.Changed("tls-verify") {
		v := f.tlsVerify
		opts.TLSVerify = &v
	}
	if f.fs.Changed("retry") {
		n := int(f.retry)
		opts.MaxRetries = &n
	}
	if f.retryDelay != "" {
		d, err := time.ParseDuration(f.retryDelay)
		if err != nil || d < 0 {
			return p, nil, fmt.Errorf("--retry-delay %q: want a duration such as 2s", f.retryDelay)
		}
		opts.RetryDelay = d
	}
	return p, opts, nil
}

// parsePlatform reads --platform, or --os/--arch/--variant.
func (f *pullFlags) parsePlatform() (platform.Platform, error) {
	if f.platform != "" {
		return platform.Parse(f.platform)
	}
	if f.os == "" && f.arch == "" && f.variant == "" {
		return platform.Platform{}, nil
	}
	if f.variant != "" && f.arch == "" {
		return platform.Platform{}, errors.New("--variant needs --arch")
	}
	return platform.Normalize(platform.Platform{OS: f.os, Architecture: f.arch, Variant: f.variant}), nil
}

// credentials splits --creds USER[:PASSWORD]. Without a password it is
// asked on the terminal, as podman does; with no terminal that is an
// error, not an empty password.
func credentials(creds string, stderr io.Writer) (user, password string, err error) {
	user, password, hasPassword := strings.Cut(creds, ":")
	if user == "" {
		return "", "", errors.New("--creds: the user name is empty")
	}
	if hasPassword {
		return user, password, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", "", errors.New("--creds " + user + " has no password and stdin is not a terminal to ask for it: use --creds USER:PASSWORD or --authfile")
	}
	fmt.Fprint(stderr, "Password: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", "", fmt.Errorf("reading the password: %v", err)
	}
	if len(b) == 0 {
		return "", "", errors.New("--creds: the password is empty")
	}
	return user, string(b), nil
}

func (f *pullFlags) pullEngineOptions(stderr io.Writer) engine.Options {
	o := f.storeFlags.engineOptions()
	if f.debug {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}
