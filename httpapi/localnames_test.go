package httpapi

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	pullerrors "github.com/pullengine/pullengine/errors"
)

// showErr maps the private copy's path back everywhere in an error tree
// (the PullError's name, its candidates, each wrapped error's text) and
// keeps what the error is: kind, status, errors.Is and errors.As.
func TestShowErr(t *testing.T) {
	lp := &localPath{path: "/srv/images/app", private: "/var/lib/x/tmp/pullengine-1/localsource-2/layout"}
	pathErr := &fs.PathError{Op: "open", Path: lp.private + "/blobs/sha256/abc", Err: fs.ErrNotExist}
	inner := fmt.Errorf("reading oci:%s: %w", lp.private, pullerrors.Wrap(pullerrors.NotFound, pathErr))
	orig := pullerrors.New("oci:"+lp.private, inner, pullerrors.CandidateError{Name: "oci:" + lp.private, Err: inner})

	got := lp.showErr(orig)
	var pe *pullerrors.PullError
	if !errors.As(got, &pe) || pe.Name != "oci:/srv/images/app" || pe.Candidates[0].Name != "oci:/srv/images/app" {
		t.Fatalf("PullError not mapped: %#v", got)
	}
	if pullerrors.Classify(got) != pullerrors.Classify(orig) || pullerrors.HTTPStatus(got) != pullerrors.HTTPStatus(orig) {
		t.Errorf("kind/status changed: %v/%d, want %v/%d", pullerrors.Classify(got), pullerrors.HTTPStatus(got), pullerrors.Classify(orig), pullerrors.HTTPStatus(orig))
	}
	if !errors.Is(got, fs.ErrNotExist) || !errors.Is(got, pullerrors.NotFound.Sentinel()) || !errors.Is(got, pathErr) {
		t.Error("errors.Is no longer sees through the chain")
	}
	var pErr *fs.PathError
	if !errors.As(got, &pErr) || pErr != pathErr {
		t.Error("errors.As does not find the wrapped *fs.PathError")
	}
	// Every error of the tree, walked as rootCause and errors.Is walk it.
	var walk func(error)
	walk = func(e error) {
		if strings.Contains(e.Error(), "localsource-") {
			t.Errorf("%T names the private copy: %s", e, e)
		}
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			if n := x.Unwrap(); n != nil {
				walk(n)
			}
		case interface{ Unwrap() []error }:
			for _, n := range x.Unwrap() {
				walk(n)
			}
		}
	}
	walk(got)
	if !strings.Contains(got.Error(), "/srv/images/app/blobs/sha256/abc") {
		t.Errorf("message %q", got)
	}
	if rootCause(got) != rootCause(orig) {
		t.Errorf("root cause %q, want %q", rootCause(got), rootCause(orig))
	}
	// Errors that do not name the copy are kept as they are.
	plain := errors.New("no such image")
	if lp.showErr(plain) != plain || (*localPath)(nil).showErr(orig) != orig {
		t.Error("an error without the path, or a registry pull's, was rewritten")
	}
}

// Only the private path itself is replaced, not a longer name it begins.
func TestShowText(t *testing.T) {
	lp := &localPath{path: "/srv/a.tar", private: "/proc/self/fd/1"}
	for in, want := range map[string]string{
		"docker-archive:/proc/self/fd/1:@2":   "docker-archive:/srv/a.tar:@2",
		"open /proc/self/fd/12: bad":          "open /proc/self/fd/12: bad",
		"/proc/self/fd/1 and /proc/self/fd/1": "/srv/a.tar and /srv/a.tar",
	} {
		if got := lp.showText(in); got != want {
			t.Errorf("showText(%q) = %q, want %q", in, got, want)
		}
	}
}
