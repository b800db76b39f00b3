package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/pullengine/pullengine/engine"
	"github.com/pullengine/pullengine/policy"
)

// Pull an image from an OCI archive into a fresh store, then again with
// policy missing by the name it was stored under: the second pull uses the
// local image.
func Example() {
	dir, err := os.MkdirTemp("", "pullengine-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// RunDir is given so that the example leaves nothing behind; without
	// it the store uses storage.conf's run root, as podman --root does.
	// (A program's main must start with `if engine.Init() { return }`;
	// this test's TestMain does.)
	e, err := engine.New(engine.Options{RootDir: dir + "/root", RunDir: dir + "/run", GraphDriver: "vfs"})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ctx := context.Background()
	res, err := e.Pull(ctx, "oci-archive:../testdata/hello.oci.tar", policy.Missing, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Outcome, res.Images[0].Names, res.Images[0].Platform)

	res, err = e.Pull(ctx, "localhost/pullengine/hello:1.0", policy.Missing, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Outcome, res.Reference)
	// Output:
	// pulled [localhost/pullengine/hello:1.0] linux/amd64
	// used-local localhost/pullengine/hello:1.0
}
