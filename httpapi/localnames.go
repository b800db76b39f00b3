package httpapi

// The engine reads a local source from its private copy (openLocal), so
// what it says about the source names the copy: a path in the Engine's
// temporary directory, or /proc/self/fd/N. The client asked for its own
// path, and a path it never gave says nothing to it (and tells it where the
// server keeps its temporary files). So the handler maps the copy's path
// back to the client's in everything it answers or logs about the pull:
// errors (their whole chain), progress events and the result.

import (
	"reflect"
	"strings"

	pullerrors "github.com/pullengine/pullengine/errors"
	"github.com/pullengine/pullengine/progress"
)

// maxShownDepth bounds the error chains rewritten (deeper nodes are kept).
const maxShownDepth = 64

// showText returns s with the private copy's path replaced by the client's.
// An occurrence continued by a name character ("/proc/self/fd/1" in
// "/proc/self/fd/12") is another path and is kept.
func (lp *localPath) showText(s string) string {
	if lp == nil || lp.private == "" || !strings.Contains(s, lp.private) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, lp.private)
		if i < 0 {
			break
		}
		end := i + len(lp.private)
		b.WriteString(s[:i])
		if end < len(s) && isNameByte(s[end]) {
			b.WriteString(lp.private)
		} else {
			b.WriteString(lp.path)
		}
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

// isNameByte reports whether c may continue a file name.
func isNameByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-'
}

// showEvent maps the copy's path back in a progress event.
func (lp *localPath) showEvent(e progress.Event) progress.Event {
	if lp == nil {
		return e
	}
	e.Ref = lp.showText(e.Ref)
	e.Message = lp.showText(e.Message)
	e.Err = lp.showErr(e.Err)
	if len(e.ImageNames) > 0 {
		names := make([]string, len(e.ImageNames))
		for i, n := range e.ImageNames {
			names[i] = lp.showText(n)
		}
		e.ImageNames = names
	}
	return e
}

// showErr returns err with the copy's path mapped back in its text and in
// the text of every error it wraps. A *pullerrors.PullError stays one (a
// copy with its name, candidates and cause mapped), so its kind, status
// and hints are unchanged; any other error naming the path is replaced by
// a shownError that keeps its place in the chain.
func (lp *localPath) showErr(err error) error {
	if lp == nil || lp.private == "" || err == nil {
		return err
	}
	m := errMapper{lp: lp, seen: map[error]error{}}
	out, _ := m.mapErr(err, maxShownDepth)
	return out
}

// errMapper rewrites one error tree; seen keeps an error wrapped at two
// places (a PullError's cause and its only candidate's) one value.
type errMapper struct {
	lp   *localPath
	seen map[error]error
}

// mapErr returns err rewritten, and whether anything changed.
func (m *errMapper) mapErr(err error, depth int) (error, bool) {
	if err == nil || depth == 0 {
		return err, false
	}
	comparable := reflect.TypeOf(err).Comparable()
	if comparable {
		if out, ok := m.seen[err]; ok {
			return out, out != err
		}
	}
	out, changed := m.mapNode(err, depth)
	if comparable {
		m.seen[err] = out
	}
	return out, changed
}

// mapNode rewrites one node of the tree, after its children.
func (m *errMapper) mapNode(err error, depth int) (error, bool) {
	if pe, ok := err.(*pullerrors.PullError); ok && pe != nil {
		return m.mapPullError(pe, depth)
	}
	var kids []error
	multi := false
	switch x := err.(type) {
	case interface{ Unwrap() []error }:
		kids, multi = x.Unwrap(), true
	case interface{ Unwrap() error }:
		kids = []error{x.Unwrap()}
	}
	changed := false
	mapped := make([]error, len(kids))
	for i, k := range kids {
		var c bool
		mapped[i], c = m.mapErr(k, depth-1)
		changed = changed || c
	}
	text := err.Error()
	shown := m.lp.showText(text)
	if !changed && shown == text {
		return err, false
	}
	if multi {
		return &shownErrors{shownNode{orig: err, msg: shown}, mapped}, true
	}
	var kid error
	if len(mapped) == 1 {
		kid = mapped[0]
	}
	return &shownError{shownNode{orig: err, msg: shown}, kid}, true
}

// mapPullError returns a copy of pe with its name, candidates and cause
// mapped.
func (m *errMapper) mapPullError(pe *pullerrors.PullError, depth int) (error, bool) {
	c := *pe
	changed := false
	c.Name = m.lp.showText(pe.Name)
	changed = c.Name != pe.Name
	var ch bool
	c.Err, ch = m.mapErr(pe.Err, depth-1)
	changed = changed || ch
	if len(pe.Candidates) > 0 {
		c.Candidates = make([]pullerrors.CandidateError, len(pe.Candidates))
		for i, cand := range pe.Candidates {
			c.Candidates[i].Name = m.lp.showText(cand.Name)
			c.Candidates[i].Err, ch = m.mapErr(cand.Err, depth-1)
			changed = changed || ch || c.Candidates[i].Name != cand.Name
		}
	}
	if !changed {
		return pe, false
	}
	return &c, true
}

// shownNode is an error whose text names the client's path instead of the
// private copy's. errors.Is and errors.As see the original node: its
// identity and type decide what it is, not its text.
type shownNode struct {
	orig error
	msg  string
}

func (n shownNode) Error() string { return n.msg }

// Is reports whether the original node is target.
func (n shownNode) Is(target error) bool { return same(n.orig, target) }

// As sets target to the original node when its type fits.
func (n shownNode) As(target any) bool {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	if reflect.TypeOf(n.orig).AssignableTo(v.Type().Elem()) {
		v.Elem().Set(reflect.ValueOf(n.orig))
		return true
	}
	if x, ok := n.orig.(interface{ As(any) bool }); ok {
		return x.As(target)
	}
	return false
}

// shownError is a shownNode wrapping one error (mapped).
type shownError struct {
	shownNode
	next error
}

func (e *shownError) Unwrap() error { return e.next }

// shownErrors is a shownNode wrapping several errors (mapped).
type shownErrors struct {
	shownNode
	errs []error
}

func (e *shownErrors) Unwrap() []error { return e.errs }
