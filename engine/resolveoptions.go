package engine

// Resolving a pull's options: every default and every check of
// PullOptions, in one step, before any I/O. Defaults come from the options,
// then the Engine's Options and SystemContext, then containers.conf, then
// Podman's; a check failing is an InvalidArgument (or Unsupported) error
// before anything is fetched. Later steps read the resolved values on the
// pullState and check nothing.

import (
	"time"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/internal/decide"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/policy"
	"go.podman.io/image/v5/types"
)

// resolveOptions resolves the pull's policy and options against cfg and
// the parsed input, and checks them.
func (st *pullState) resolveOptions(cfg *settings) error {
	e, o := st.e, &st.o
	st.cfg = cfg
	if st.policy == policy.Default {
		st.policy = cfg.conf.pullPolicy
	}
	st.sys = e.sys
	if err := applyCredentials(&st.sys, o); err != nil {
		return err
	}
	st.applyTransportOptions()
	if err := st.applyRegistryCredentials(); err != nil {
		return err
	}
	st.resolvePlatform()
	var err error
	if st.dec, err = newDecryption(o.DecryptionKeys); err != nil {
		return err
	}
	if o.MaxRetries != nil && *o.MaxRetries < 0 {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "MaxRetries %d is negative", *o.MaxRetries)
	}
	st.retries.max, st.retries.delay, st.retries.fixed = retryLimits(cfg.conf, o)
	if st.request, err = requestOf(st.in, o); err != nil {
		return err
	}
	if st.request == decide.RequestAllTags {
		if st.maxTags, err = maxTags(o.MaxTags); err != nil {
			return err
		}
	}
	return nil
}

// applyCredentials sets the registry credentials of the options. One source
// at most: a username and password, or an identity token.
func applyCredentials(sys *types.SystemContext, o *PullOptions) error {
	switch {
	case o.IdentityToken != "" && (o.Username != "" || o.Password != ""):
		return pullerrors.Errorf(pullerrors.InvalidArgument, "an identity token and a username/password were both given; use one")
	case o.Password != "" && o.Username == "":
		return pullerrors.Errorf(pullerrors.InvalidArgument, "a password was given without a username")
	case o.IdentityToken != "":
		sys.DockerAuthConfig = &types.DockerAuthConfig{IdentityToken: o.IdentityToken}
	case o.Username != "":
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: o.Username, Password: o.Password}
	}
	return nil
}

// applyTransportOptions applies the auth file, certificates and TLS
// verification the pull asks for.
func (st *pullState) applyTransportOptions() {
	o, sys := &st.o, &st.sys
	if o.AuthFilePath != "" {
		sys.AuthFilePath = o.AuthFilePath
	}
	if o.CertDir != "" {
		sys.DockerCertPath = o.CertDir
	}
	if o.TLSVerify != nil {
		skip := !*o.TLSVerify
		if skip {
			st.e.log.Warn("TLS verification turned off for this pull: registry certificates are not checked and plain HTTP is accepted")
		}
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(skip)
		sys.OCIInsecureSkipTLSVerify = skip
		sys.DockerDaemonInsecureSkipTLSVerify = skip
	}
}

// applyRegistryCredentials writes PullOptions.RegistryCredentials as the
// pull's auth file (credentials.go), which the pull holds until it ends.
// A transfer the pull starts holds it too (transferSpec.auth).
func (st *pullState) applyRegistryCredentials() error {
	if len(st.o.RegistryCredentials) == 0 {
		return nil
	}
	if st.o.AuthFilePath != "" {
		return pullerrors.Errorf(pullerrors.InvalidArgument, "RegistryCredentials and AuthFilePath were both given; use one")
	}
	auth, err := writeRegistryCredentials(st.e.sys.BigFilesTemporaryDir, st.o.RegistryCredentials)
	if err != nil {
		return err
	}
	st.auth = auth
	st.cleanups = append(st.cleanups, auth.release)
	st.sys.AuthFilePath = auth.path
	return nil
}

// resolvePlatform sets the platform the pulled image should declare and,
// when the pull pins one (the option, else the Engine's SystemContext
// choices), pins it and hands it to containers/image.
func (st *pullState) resolvePlatform() {
	base := &st.e.sys
	asked := st.o.Platform
	if asked.IsZero() {
		asked = platform.Platform{OS: base.OSChoice, Architecture: base.ArchitectureChoice, Variant: base.VariantChoice}
	}
	st.expected = withHostDefaults(asked)
	if asked.IsZero() {
		return
	}
	pinned := st.expected
	st.pinned = &pinned
	st.sys.OSChoice, st.sys.ArchitectureChoice, st.sys.VariantChoice = pinned.OS, pinned.Architecture, pinned.Variant
}

// withHostDefaults fills the unset parts of p from the host, normalized.
func withHostDefaults(p platform.Platform) platform.Platform {
	host := platform.Host()
	if p.OS == "" {
		p.OS = host.OS
	}
	if p.Architecture == "" {
		p.Architecture = host.Architecture
		if p.Variant == "" {
			p.Variant = host.Variant
		}
	}
	return platform.Normalize(p)
}

// requestOf is the kind of pull the input and options make, or an error
// for a combination no kind serves.
func requestOf(in input, o *PullOptions) (decide.Request, error) {
	severalPlatforms := o.AllPlatforms || len(o.Platforms) > 0
	switch {
	case in.transportRef != nil:
		if o.AllTags || severalPlatforms {
			return 0, pullerrors.Errorf(pullerrors.Unsupported, "pulling all tags or several platforms is not supported for the %s transport", in.transportRef.Transport().Name())
		}
		return decide.RequestTransport, nil
	case severalPlatforms:
		if in.id != "" || o.AllTags || !o.Platform.IsZero() {
			return 0, pullerrors.Errorf(pullerrors.InvalidArgument, "several platforms are pulled by registry name, without AllTags or Platform")
		}
		return decide.RequestPlatforms, nil
	case o.AllTags && in.id != "":
		return 0, pullerrors.Errorf(pullerrors.InvalidArgument, "pulling all tags of an image ID")
	case o.AllTags:
		return decide.RequestAllTags, nil
	}
	return decide.RequestOne, nil
}

// maxTags is PullOptions.MaxTags resolved: DefaultMaxTags when zero.
func maxTags(n int) (int, error) {
	switch {
	case n < 0:
		return 0, pullerrors.Errorf(pullerrors.InvalidArgument, "MaxTags %d is negative", n)
	case n == 0:
		return DefaultMaxTags, nil
	}
	return n, nil
}

// retrySettings is the retry budget of a pull's copies (see retry.go).
type retrySettings struct {
	max   int
	delay time.Duration
	// fixed: every retry waits delay (the pull or containers.conf set
	// it); otherwise delay is the first step of the backoff.
	fixed bool
}

// retryLimits returns the number of retries and the retry delay for a
// pull; fixed is true when the pull or containers.conf set the delay
// (every retry then waits that long, as in Podman), false for the default
// backoff from defaultRetryDelay.
func retryLimits(conf hostConf, o *PullOptions) (maxRetries int, delay time.Duration, fixed bool) {
	maxRetries = conf.retries
	if o.MaxRetries != nil {
		maxRetries = *o.MaxRetries
	}
	delay = o.RetryDelay
	if delay <= 0 {
		delay = conf.retryDelay
	}
	if delay > 0 {
		return maxRetries, delay, true
	}
	return maxRetries, defaultRetryDelay, false
}
