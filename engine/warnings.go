package engine

import "github.com/pullengine/pullengine/platform"

// checkPlatform warns about an image whose config declares another
// platform than the pull expected. Many images in the wild declare a wrong
// one, so this is a warning, never an error.
func (sc *sysContext) checkPlatform(img Image) {
	if img.Platform.IsZero() || platform.Only(sc.expected).Match(img.Platform) {
		return
	}
	sc.warn("image platform (%s) does not match the expected platform (%s)", img.Platform, sc.expected)
}
