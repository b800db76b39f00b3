package engine

import (
	"context"
	"testing"

	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/types"
)

// The reflection target of untrustedSignatureCount exists, with the shape
// it expects, in the containers/image version of go.mod: an upgrade that
// renames or reshapes UnparsedImage.UntrustedSignatures fails here instead
// of sending every pull to copy.Image without a word.
func TestUntrustedSignaturesMethodExists(t *testing.T) {
	ctx := context.Background()
	ref, err := layout.ParseReference("../testdata/layout:1.0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ref.NewImageSource(ctx, &types.SystemContext{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n, ok := untrustedSignatureCount(ctx, image.UnparsedInstance(src, nil))
	if !ok {
		t.Fatal("containers/image's UnparsedImage has no UntrustedSignatures(ctx) ([]signature.Signature, error): the fast path would leave every pull to copy.Image")
	}
	if n != 0 {
		t.Errorf("an unsigned layout image has %d signatures", n)
	}
}

// Without the method (or with another shape), the count is not ok, and
// readSignatures leaves the pull to copy.Image (errNotFast).
func TestUntrustedSignatureCountMissingMethod(t *testing.T) {
	ctx := context.Background()
	for _, v := range []any{struct{}{}, &wrongShape{}, &wrongArg{}} {
		if _, ok := untrustedSignatureCount(ctx, v); ok {
			t.Errorf("%T counted as if it had UntrustedSignatures", v)
		}
	}
}

type wrongShape struct{}

func (*wrongShape) UntrustedSignatures() int { return 1 }

type wrongArg struct{}

func (*wrongArg) UntrustedSignatures(string) ([]int, error) { return nil, nil }
