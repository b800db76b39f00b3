package pullerrors

import "github.com/pullengine/pullengine/internal/engineerr"

// The engine builds its errors with engineerr's constructors; the two that
// need this package's view of an error tree are installed here.
func init() { engineerr.Install(bound, fromContext) }

// isFinal reports whether err's tree holds an error marked by
// engineerr.Final.
func isFinal(err error) bool {
	return walk(err, engineerr.IsFinal)
}
