package engine

import "testing"

func TestAuthFileKey(t *testing.T) {
	for in, want := range map[string]string{
		"quay.io":                     "quay.io",
		"quay.io/team":                "quay.io/team",
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"http://localhost:5000/v2/x":  "localhost:5000",
	} {
		if got := authFileKey(in); got != want {
			t.Errorf("authFileKey(%q) = %q, want %q", in, got, want)
		}
	}
}
