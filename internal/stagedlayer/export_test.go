package stagedlayer

// UseRootFallback makes the untar resolve names with os.Root instead of
// openat2 until the returned function restores the default.
func UseRootFallback() (restore func()) {
	old := forceRootFallback
	forceRootFallback = true
	return func() { forceRootFallback = old }
}
