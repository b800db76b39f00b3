package engine

import "fmt"

// platformWarnings reports an image whose config declares another platform
// than the pull expected. Many images in the wild declare a wrong one, so
// this is a warning, never an error.
func platformWarnings(sys *sysContext, img Image) []string {
	got, want := img.Platform, sys.expected
	if got.IsZero() || (got.OS == want.OS && got.Architecture == want.Architecture && (want.Variant == "" || got.Variant == want.Variant)) {
		return nil
	}
	return []string{fmt.Sprintf("image platform (%s) does not match the expected platform (%s)", got, want)}
}
