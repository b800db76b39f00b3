package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/enginetest"
	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/policy"
)

// A containers-storage: name that names another store is refused as an
// invalid argument, and no store is created at the path it names (issue
// 10, item 12); so is a store listed in AllowedStores that does not exist.
func TestForeignStoreRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "some", "dir")
	run := filepath.Join(base, "run")
	missingAllowed := filepath.Join(base, "allowed-but-missing")
	e := enginetest.NewEngine(t, enginetest.WithEngineOptions(func(o *engine.Options) {
		o.AllowedStores = []string{missingAllowed}
	}))
	for _, name := range []string{
		"containers-storage:[vfs@" + root + "]alpine",
		"containers-storage:[vfs@" + root + "+" + run + "]localhost/app:1",
		"containers-storage:[" + root + "]alpine",
		"containers-storage:[overlay@" + root + "+" + run + ":overlay.mountopt=nodev]alpine",
		"containers-storage:[vfs@" + missingAllowed + "]alpine",
	} {
		_, err := e.Pull(context.Background(), name, policy.Always, nil)
		if k := pullerrors.Classify(err); k != pullerrors.InvalidArgument {
			t.Errorf("%s: kind %v, want invalid-argument: %v", name, k, err)
		}
		if err != nil && !strings.Contains(err.Error(), "names another store") {
			t.Errorf("%s: the error does not say why: %v", name, err)
		}
	}
	for _, dir := range []string{root, run, missingAllowed, filepath.Join(base, "some")} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after the refused pulls (%v)", dir, err)
		}
	}
}

// A containers-storage: name naming the Engine's own store, or no store,
// reads the Engine's store (a local image is found there).
func TestOwnStoreInName(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	src, err := e.Pull(ctx, "oci-archive:"+td+"hello.oci.tar", policy.Always, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Store()
	for _, name := range []string{
		"containers-storage:localhost/pullengine/hello:1.0",
		"containers-storage:[" + s.GraphDriverName() + "@" + s.GraphRoot() + "+" + s.RunRoot() + "]localhost/pullengine/hello:1.0",
		"containers-storage:[" + s.GraphRoot() + "]localhost/pullengine/hello:1.0",
	} {
		res, err := e.Pull(ctx, name, policy.Always, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if res.Images[0].ID != src.Images[0].ID {
			t.Errorf("%s: got image %s, want %s", name, res.Images[0].ID, src.Images[0].ID)
		}
	}
}
