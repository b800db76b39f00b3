package pullerrors

import (
	"fmt"
	"io/fs"
	"net/http"
	"syscall"
	"testing"

	"go.podman.io/storage"
)

// TestHTTPStatusTable is README.md's errors table (section Errors): a kind
// and the HTTP status a server answers with it.
func TestHTTPStatusTable(t *testing.T) {
	want := map[Kind]int{
		InvalidReference: 400,
		InvalidArgument:  400,
		NotFound:         404,
		PlatformNotFound: 404,
		Unauthorized:     401,
		Denied:           403,
		RateLimited:      429,
		Unavailable:      503,
		Timeout:          504,
		Canceled:         499,
		Integrity:        502,
		TLS:              502,
		Unsupported:      400,
		Storage:          500,
		Decryption:       422,
		Internal:         500,
	}
	if len(want) != numKinds {
		t.Fatalf("the table covers %d kinds of %d", len(want), numKinds)
	}
	for k, status := range want {
		if got := HTTPStatus(k.Sentinel()); got != status {
			t.Errorf("HTTPStatus(%s) = %d, want %d", k, got, status)
		}
		if got := HTTPStatus(New("x", Wrap(k, fmt.Errorf("failure")))); got != status {
			t.Errorf("HTTPStatus(PullError of %s) = %d, want %d", k, got, status)
		}
	}
}

func TestHTTPStatusSpecialCases(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "/var/lib/containers/storage/x", Err: syscall.ENOSPC}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, http.StatusOK},
		{"disk full", fmt.Errorf("writing blob: %w", full), http.StatusInsufficientStorage},
		{"quota exceeded", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, http.StatusInsufficientStorage},
		{"disk full inside a PullError", New("x", fmt.Errorf("committing: %w", full)), http.StatusInsufficientStorage},
		{"disk full marked Storage at the source", Wrap(Storage, full), http.StatusInsufficientStorage},
		{"other storage failure", fmt.Errorf("applying: %w", storage.ErrLayerUnknown), http.StatusInternalServerError},
		{"read-only file system", &fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.EROFS}, http.StatusInternalServerError},
		{"image unknown", storage.ErrImageUnknown, http.StatusNotFound},
		{"anonymous DENIED through New", New("x", errDenied()), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("%s: HTTPStatus = %d, want %d", tc.name, got, tc.want)
		}
	}
}
