package engine_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// While a pull is in flight, Prune leaves the layers it has committed (no
// image uses them yet); Close cancels the pull and returns only once its
// transfer has torn down.
func TestPruneSparesPullsInFlightAndCloseWaits(t *testing.T) {
	img := manyLayers(t, 8)
	arrived := make(chan struct{})
	var once sync.Once
	reg := enginetest.NewRegistry(t, enginetest.Intercept(enginetest.Blob(layerDigests(t, img)[7]), -1,
		func(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
			once.Do(func() { close(arrived) })
			<-r.Context().Done()
		}))
	reg.PushImage(t, "team/app:v1", img)
	e, err := engine.New(enginetest.NewEngineOptions(t, enginetest.WithRegistry(reg)))
	if err != nil {
		t.Fatal(err)
	}

	pulled := make(chan error, 1)
	go func() {
		_, err := e.Pull(context.Background(), reg.Host+"/team/app:v1", policy.Always, nil)
		pulled <- err
	}()
	<-arrived
	waitLayers(t, e, 7)

	rep, err := e.Prune(context.Background(), engine.PruneOptions{MinAge: -1})
	if err != nil || len(rep.Layers) != 0 || rep.Kept != 7 {
		t.Errorf("Prune during a pull: %+v, %v; want its 7 layers kept", rep, err)
	}

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returned: the transfer is over and its temporary files are gone.
	assertTmpEmpty(t, e)
	if err := <-pulled; pullerrors.Classify(err) != pullerrors.Canceled {
		t.Errorf("the pull Close interrupted: %s: %v", pullerrors.Classify(err), err)
	}
}
