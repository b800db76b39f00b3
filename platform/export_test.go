package platform

// Names the external tests (match_test.go) use for what the package keeps
// unexported: the full instance choice and the exact matcher.
type Instance = instance

// ChooseInstance is chooseInstance.
func ChooseInstance(want Platform, list []Instance) (int, bool) { return chooseInstance(want, list) }

// Exact is exact.
func Exact(p Platform) Matcher { return exact(p) }
