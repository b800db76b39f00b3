package pullerrors

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pullengine/pullengine/internal/engineerr"
)

// Final keeps the kind and the message, and makes any kind not retryable,
// through wrapping.
func TestFinal(t *testing.T) {
	base := Errorf(Integrity, "blob sha256:x: the registry sent more bytes than the declared size")
	if !Retryable(base) {
		t.Fatal("Integrity should be retryable unmarked")
	}
	err := fmt.Errorf("copying: %w", engineerr.Final(base))
	if Retryable(err) {
		t.Error("a Final error is retryable")
	}
	if Classify(err) != Integrity {
		t.Errorf("kind %v, want Integrity", Classify(err))
	}
	if err.Error() != "copying: "+base.Error() {
		t.Errorf("message changed: %q", err)
	}
	if !errors.Is(err, ErrIntegrity) {
		t.Error("errors.Is(err, ErrIntegrity) is false")
	}
	if engineerr.Final(nil) != nil {
		t.Error("engineerr.Final(nil) is not nil")
	}
}
