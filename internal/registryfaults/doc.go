// Package registryfaults holds the registry faults that only pullengine's
// own tests use: hostile answers that test the engine's bounds
// (hostile.go) and the faults of resumable and partial pulls (resume.go).
// Each is an enginetest.RegistryOption built on enginetest.Intercept, so
// it combines with the kit's registry, matchers and common faults:
//
//	reg := enginetest.NewRegistry(t, registryfaults.CutAt(enginetest.Blob(d), 1, 512<<10))
//
// The faults a user's test needs (FailWith, TruncateBody, ResetConnection,
// CorruptBody, Stall, Throttle) stay in enginetest, the exported kit.
package registryfaults
