// Package enginetest is a test kit for code that pulls images: a real
// registry in-process on 127.0.0.1 (go-containerregistry's, in memory) with
// optional authentication, request counting and fault middleware; an Engine
// over a throw-away store that trusts that registry and reads nothing from
// /etc/containers; and builders for images, multi-layer images, archives
// and layouts.
//
// It is to engine what net/http/httptest is to net/http. A test needs
// three lines:
//
//	func TestMain(m *testing.M) { enginetest.Main(m) }
//
//	reg := enginetest.NewRegistry(t)
//	reg.Push(t, "team/app:v1", enginetest.Files{"etc/motd": "hi"})
//	e := enginetest.NewEngine(t, enginetest.WithRegistry(reg))
//	res, err := e.Pull(ctx, reg.Host+"/team/app:v1", policy.Missing, nil)
//
// Main is required: writing layers re-executes the test binary
// (containers/storage's reexec), and it makes the process hermetic by
// pointing CONTAINERS_CONF and CONTAINERS_STORAGE_CONF at empty files.
package enginetest
