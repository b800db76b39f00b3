package engine

import (
	"testing"

	"go.podman.io/image/v5/signature"
)

// A policy that asks for sigstore signatures keeps the source unwrapped
// (a wrapper would hide them); others do not.
func TestNeedsSigstore(t *testing.T) {
	for policy, want := range map[string]bool{
		`{"default":[{"type":"insecureAcceptAnything"}]}`: false,
		`{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io":[{"type":"sigstoreSigned","keyData":"eA==","signedIdentity":{"type":"matchRepository"}}]}}}`: true,
		`{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"eA=="}]}`:                                                                                       false,
	} {
		p, err := signature.NewPolicyFromBytes([]byte(policy))
		if err != nil {
			t.Fatal(err)
		}
		if got := needsSigstore(p); got != want {
			t.Errorf("%s: needsSigstore = %v, want %v", policy, got, want)
		}
	}
}
