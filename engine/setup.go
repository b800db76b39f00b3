package engine

import (
	"errors"

	pullerrors "github.com/pullengine/pullengine/errors"
	"go.podman.io/storage/pkg/reexec"
)

// ErrReexecNotInitialized is the error New returns when the program did not
// call Init (or go.podman.io/storage/pkg/reexec.Init) first in main.
// containers/storage writes layers in a child process that re-executes the
// program; without the call it panics on the first layer write and can
// leave a mount behind.
var ErrReexecNotInitialized = errors.New("engine.Init() (or reexec.Init() of go.podman.io/storage/pkg/reexec) was not called first in main or TestMain: " +
	"layer writes re-execute the program; start main with `if engine.Init() { return }`")

// Init must be the first call of every program (main, and TestMain of
// tests) that pulls with an Engine:
//
//	func main() {
//		if engine.Init() {
//			return // this process was a storage child and did its job
//		}
//		...
//	}
//
// containers/storage writes layers in a child process that re-executes the
// program; Init runs that child's work and reports true in the child. It
// is go.podman.io/storage/pkg/reexec.Init, which may be called instead.
func Init() bool { return reexec.Init() }

// checkReexec returns ErrReexecNotInitialized (classified Internal) when
// reexec.Init was not called in this process. It asks reexec for a command,
// which only builds an exec.Cmd when Init was called and panics otherwise;
// nothing is started.
func checkReexec() (err error) {
	defer func() {
		if recover() != nil {
			err = pullerrors.Wrap(pullerrors.Internal, ErrReexecNotInitialized)
		}
	}()
	_ = reexec.Command("pullengine-reexec-probe")
	return nil
}
