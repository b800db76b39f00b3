package pullerrors

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
)

// errDenied is Docker Hub's refusal of an anonymous pull of a missing or
// private repository as containers/image reports it: the DENIED it builds
// from the 401's insufficient_scope challenge, with the default message, no
// detail, reworded (registryHTTPResponseToError).
func errDenied() error {
	msg := errcode.ErrorCodeDenied.Message()
	return fmt.Errorf("%s%.0w", msg, errcode.Error{Code: errcode.ErrorCodeDenied, Message: msg})
}

// The String forms are API: they never change.
func TestKindStrings(t *testing.T) {
	want := map[Kind]string{
		Internal:         "internal",
		InvalidReference: "invalid-reference",
		InvalidArgument:  "invalid-argument",
		NotFound:         "not-found",
		PlatformNotFound: "platform-not-found",
		Unauthorized:     "unauthorized",
		Denied:           "denied",
		RateLimited:      "rate-limited",
		Unavailable:      "unavailable",
		Timeout:          "timeout",
		Canceled:         "canceled",
		Integrity:        "integrity",
		TLS:              "tls",
		Unsupported:      "unsupported",
		Storage:          "storage",
		Decryption:       "decryption",
	}
	if len(want) != numKinds {
		t.Fatalf("%d names for %d kinds", len(want), numKinds)
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), s)
		}
		if p, ok := parseKind(s); !ok || p != k {
			t.Errorf("parseKind(%q) = %s, %t", s, p, ok)
		}
		if k.Sentinel().Error() != s || !errors.Is(k.Sentinel(), k.Sentinel()) || Classify(k.Sentinel()) != k {
			t.Errorf("sentinel of %s misbehaves", s)
		}
	}
	if Kind(-1).String() != "internal" || Kind(99).String() != "internal" || Kind(99).Sentinel() != ErrInternal {
		t.Error("out-of-range kinds are not internal")
	}
	if _, ok := parseKind("nope"); ok {
		t.Error("parseKind accepted an unknown name")
	}
}

func TestKindJSON(t *testing.T) {
	b, err := json.Marshal(struct{ Kind Kind }{NotFound})
	if err != nil || string(b) != `{"Kind":"not-found"}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var v struct{ Kind Kind }
	if err := json.Unmarshal([]byte(`{"Kind":"rate-limited"}`), &v); err != nil || v.Kind != RateLimited {
		t.Errorf("unmarshal: %s, %v", v.Kind, err)
	}
	if err := json.Unmarshal([]byte(`{"Kind":"bogus"}`), &v); err == nil {
		t.Error("unmarshal accepted an unknown kind")
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	for a := range numKinds {
		for b := range numKinds {
			if same := errors.Is(Kind(a).Sentinel(), Kind(b).Sentinel()); same != (a == b) {
				t.Errorf("errors.Is(%s, %s) = %t", Kind(a), Kind(b), same)
			}
		}
	}
}
