package engine

import (
	"fmt"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/platform"
	"github.com/pullengine/pullengine/progress"
	"go.podman.io/image/v5/types"
)

// sysContext is one pull's SystemContext (a copy of the Engine's, with the
// pull's options applied) and the platform the pull asks for.
type sysContext struct {
	types.SystemContext
	// want is the platform asked for, nil when none was (the host's
	// platform is then used without filtering local images).
	want *platform.Platform
	// expected is the platform the pulled image should declare: want, or
	// the host's.
	expected platform.Platform
	// warnings collects what the pull's steps found worth telling.
	warnings []string
	// rep receives the pull's progress events (nil: none).
	rep *progress.Reporter
	// cfg is the host configuration this pull applies.
	cfg *settings
	// dec decrypts encrypted layers with the pull's keys (decrypt.go).
	dec decryption
}

// warn records a warning for the Result.
func (sc *sysContext) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	sc.warnings = append(sc.warnings, msg)
	sc.rep.Emit(progress.Event{Kind: progress.Warning, Message: msg})
}

// systemContext applies a pull's options to a copy of the Engine's
// SystemContext. The Engine's copy is never mutated.
func (e *Engine) systemContext(o *PullOptions, rep *progress.Reporter, cfg *settings) (*sysContext, error) {
	sc := &sysContext{SystemContext: e.sys, rep: rep, cfg: cfg}
	sys := &sc.SystemContext
	if err := applyCredentials(sys, o); err != nil {
		return nil, err
	}
	if o.AuthFilePath != "" {
		sys.AuthFilePath = o.AuthFilePath
	}
	if o.CertDir != "" {
		sys.DockerCertPath = o.CertDir
	}
	if o.TLSVerify != nil {
		skip := !*o.TLSVerify
		if skip {
			e.log.Warn("TLS verification turned off for this pull: registry certificates are not checked and plain HTTP is accepted")
		}
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(skip)
		sys.OCIInsecureSkipTLSVerify = skip
		sys.DockerDaemonInsecureSkipTLSVerify = skip
	}
	sc.expected = e.wantedPlatform(o)
	if e.customPlatform(o) {
		want := sc.expected
		sc.want = &want
		sys.OSChoice, sys.ArchitectureChoice, sys.VariantChoice = want.OS, want.Architecture, want.Variant
	}
	var err error
	if sc.dec, err = newDecryption(o.DecryptionKeys); err != nil {
		return nil, err
	}
	if o.MaxRetries != nil && *o.MaxRetries < 0 {
		return nil, fmt.Errorf("MaxRetries %d is negative: %w", *o.MaxRetries, pullerrors.ErrInvalidArgument)
	}
	return sc, nil
}

// applyCredentials sets the registry credentials of the options. One source
// at most: a username and password, or an identity token.
func applyCredentials(sys *types.SystemContext, o *PullOptions) error {
	switch {
	case o.IdentityToken != "" && (o.Username != "" || o.Password != ""):
		return fmt.Errorf("an identity token and a username/password were both given; use one: %w", pullerrors.ErrInvalidArgument)
	case o.Password != "" && o.Username == "":
		return fmt.Errorf("a password was given without a username: %w", pullerrors.ErrInvalidArgument)
	case o.IdentityToken != "":
		sys.DockerAuthConfig = &types.DockerAuthConfig{IdentityToken: o.IdentityToken}
	case o.Username != "":
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: o.Username, Password: o.Password}
	}
	return nil
}
