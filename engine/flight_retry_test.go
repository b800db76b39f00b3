package engine_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// A pull asking for no retries does not join a concurrent transfer of the
// same image that retries a thousand times: against a registry whose blobs
// always fail, it answers Unavailable while the other pull is still
// waiting to retry (issue 10, item 3). The order is asserted by events: the
// first pull's blob request failed before the second started, and the
// first has not returned when the second does.
func TestSharedTransferKeepsEachRetryBudget(t *testing.T) {
	var blobFailures atomic.Int64
	firstFailed := make(chan struct{})
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if enginetest.Kind(enginetest.BlobGet)(r) && blobFailures.Add(1) == 1 {
				defer close(firstFailed)
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := enginetest.NewRegistry(t,
		enginetest.WithMiddleware(count),
		enginetest.FailWith(enginetest.Kind(enginetest.BlobGet), -1, http.StatusServiceUnavailable, "UNAVAILABLE", "down for maintenance"))
	reg.Push(t, "team/app:v1", enginetest.Files{"a": "1"})
	ref := reg.Host + "/team/app:v1"
	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))

	patientCtx, stopPatient := context.WithCancel(context.Background())
	defer stopPatient()
	patientDone := make(chan error, 1)
	go func() {
		// A long first delay keeps the patient pull waiting to retry.
		_, err := e.Pull(patientCtx, ref, policy.Always, &engine.PullOptions{MaxRetries: ptr(1000), RetryDelay: time.Hour})
		patientDone <- err
	}()
	<-firstFailed

	// A guard only: joined to the patient transfer, the pull would wait
	// until this deadline and fail as a timeout, not as Unavailable.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.Pull(ctx, ref, policy.Always, &engine.PullOptions{MaxRetries: ptr(0)})
	if k := pullerrors.Classify(err); k != pullerrors.Unavailable {
		t.Fatalf("the retry=0 pull returned %v (%v); want unavailable at once", k, err)
	}
	select {
	case err := <-patientDone:
		t.Fatalf("the retry=1000 pull returned before the retry=0 one answered: %v", err)
	default:
	}
	if n := blobFailures.Load(); n < 2 {
		t.Errorf("%d blob requests; the retry=0 pull must have made its own", n)
	}
	stopPatient()
	if err := <-patientDone; pullerrors.Classify(err) != pullerrors.Canceled {
		t.Errorf("the canceled retry=1000 pull returned %v", err)
	}
}
