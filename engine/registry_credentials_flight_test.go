package engine_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// credentialsFlightKit is a token-auth registry whose blob GETs wait at a
// gate, an image on it, and an Engine whose temporary directory the test
// owns (it watches the auth files there).
type credentialsFlightKit struct {
	reg  *enginetest.Registry
	gate *gate
	ref  string
	e    *engine.Engine
	tmp  string
}

func newCredentialsFlightKit(t *testing.T, faults ...enginetest.RegistryOption) *credentialsFlightKit {
	t.Helper()
	k := &credentialsFlightKit{gate: newGate(), tmp: t.TempDir()}
	opts := append([]enginetest.RegistryOption{enginetest.WithTokenAuth("alice", canary), enginetest.WithMiddleware(k.gate.middleware)}, faults...)
	k.reg = enginetest.NewRegistry(t, opts...)
	k.reg.PushImage(t, "private/app:v1", enginetest.NewImage(t, enginetest.WithRandomLayer(t, 256<<10), enginetest.WithRandomLayer(t, 128<<10)))
	k.ref = k.reg.Host + "/private/app:v1"
	k.e = enginetest.NewEngine(t, enginetest.WithRegistry(k.reg), enginetest.WithEngineOptions(func(o *engine.Options) {
		o.SystemContext.BigFilesTemporaryDir = k.tmp
	}))
	return k
}

// opts are pull options with their own copy of creds (equal maps, never
// the same one), no retry budget beyond retries, and a short fixed delay.
func (k *credentialsFlightKit) opts(creds engine.Credentials, retries int) *engine.PullOptions {
	return &engine.PullOptions{
		RegistryCredentials: map[string]engine.Credentials{k.reg.Host: creds},
		MaxRetries:          &retries,
		RetryDelay:          time.Millisecond,
	}
}

// authFiles counts the auth files written for RegistryCredentials under
// the Engine's temporary directory.
func (k *credentialsFlightKit) authFiles(t *testing.T) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(k.tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), "auth-") {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Two concurrent pulls with equal RegistryCredentials share one transfer:
// the registry serves the image's blobs once, and both get the image.
func TestRegistryCredentialsShareOneTransfer(t *testing.T) {
	k := newCredentialsFlightKit(t)
	alice := engine.Credentials{Username: "alice", Password: canary}
	var wg sync.WaitGroup
	var errs [2]error
	for i := range errs {
		wg.Go(func() { _, errs[i] = k.e.Pull(context.Background(), k.ref, policy.Always, k.opts(alice, 0)) })
	}
	waitFor(t, "both pulls to wait on transfers", func() bool { return k.e.FlightWaiters() == 2 })
	if n := k.e.FlightsRunning(); n != 1 {
		t.Errorf("%d transfers run for two pulls with equal credentials, want 1", n)
	}
	k.gate.open()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
	}
	if n := k.reg.Requests.Count(enginetest.BlobGet); n != 3 {
		t.Errorf("the registry served %d blob GETs for two pulls sharing a transfer, want 3 (two layers, the config)", n)
	}
	if n := k.authFiles(t); n != 0 {
		t.Errorf("%d auth files left after the pulls", n)
	}
}

// Pulls with different RegistryCredentials never share a transfer.
func TestRegistryCredentialsDifferentDoNotShare(t *testing.T) {
	k := newCredentialsFlightKit(t)
	alice := engine.Credentials{Username: "alice", Password: canary}
	other := engine.Credentials{Username: "alice", Password: canary + "-other"}
	okDone, otherDone := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := k.e.Pull(context.Background(), k.ref, policy.Always, k.opts(alice, 0))
		okDone <- err
	}()
	waitFor(t, "the first pull's transfer", func() bool { return k.e.FlightWaiters() == 1 })
	// Were the transfer shared, the second pull would join it (and wait
	// at the gate with it) instead of being refused on its own.
	go func() {
		_, err := k.e.Pull(context.Background(), k.ref, policy.Always, k.opts(other, 0))
		otherDone <- err
	}()
	var otherErr error
	ended := false
	waitFor(t, "the second pull to end or join", func() bool {
		select {
		case otherErr = <-otherDone:
			ended = true
			return true
		default:
			return k.e.FlightWaiters() == 2
		}
	})
	k.gate.open()
	okErr := <-okDone
	if !ended {
		otherErr = <-otherDone
	}
	if okErr != nil {
		t.Fatalf("pull with the right password: %v", okErr)
	}
	if k := pullerrors.Classify(otherErr); k != pullerrors.Unauthorized {
		t.Fatalf("pull with another password: kind %s (%v), want unauthorized: it must not share the other's transfer", k, otherErr)
	}
	if strings.Contains(otherErr.Error(), canary) {
		t.Errorf("the error holds the password: %v", otherErr)
	}
}

// The pull that started a shared transfer may return early: the transfer
// goes on for the other pull with the credentials file it was started
// with, which stays until the transfer ends, even when the transfer must
// open the source again (a retry after a 503).
func TestRegistryCredentialsOutliveTheStarter(t *testing.T) {
	k := newCredentialsFlightKit(t, enginetest.FailWith(enginetest.Kind(enginetest.BlobGet), 1, http.StatusServiceUnavailable, "UNAVAILABLE", "try again"))
	alice := engine.Credentials{Username: "alice", Password: canary}

	starter, quit := context.WithCancel(context.Background())
	starterDone := make(chan error, 1)
	go func() {
		_, err := k.e.Pull(starter, k.ref, policy.Always, k.opts(alice, 3))
		starterDone <- err
	}()
	waitFor(t, "the starter's transfer", func() bool { return k.e.FlightWaiters() == 1 })
	var stayErr error
	stayDone := make(chan struct{})
	go func() {
		defer close(stayDone)
		_, stayErr = k.e.Pull(context.Background(), k.ref, policy.Always, k.opts(alice, 3))
	}()
	waitFor(t, "the second pull to join", func() bool { return k.e.FlightWaiters() == 2 })
	if n := k.e.FlightsRunning(); n != 1 {
		t.Fatalf("%d transfers run for two pulls with equal credentials, want 1", n)
	}

	quit()
	if err := <-starterDone; !errors.Is(err, pullerrors.ErrCanceled) {
		t.Fatalf("the starter returned %v, want canceled", err)
	}
	// The starter's file (the transfer's) and the second pull's are there.
	if n := k.authFiles(t); n != 2 {
		t.Errorf("%d auth files while the transfer runs, want 2 (the transfer holds the starter's)", n)
	}
	k.gate.open()
	<-stayDone
	if stayErr != nil {
		t.Fatalf("the pull left alone on the transfer: %v", stayErr)
	}
	waitFor(t, "the transfer to end", func() bool { return k.e.FlightsRunning() == 0 })
	if n := k.authFiles(t); n != 0 {
		t.Errorf("%d auth files left after the transfer ended", n)
	}
}
