package main

import (
	"os"
	"strings"
	"testing"
)

// unitSettings reads a systemd unit's Key=Value lines (the last wins).
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = v
		}
	}
	return settings
}

// The shipped units agree with serve: the service's command line parses,
// it tells readiness as Type=notify expects, and the socket is where serve
// would put its own.
func TestSystemdUnits(t *testing.T) {
	service := unitSettings(t, "../../contrib/systemd/pullengine.service")
	if service["Type"] != "notify" || service["Requires"] != "pullengine.socket" {
		t.Errorf("service: Type %q, Requires %q", service["Type"], service["Requires"])
	}
	args := strings.Fields(service["ExecStart"])
	if len(args) < 2 || args[1] != "serve" {
		t.Fatalf("ExecStart %q", service["ExecStart"])
	}
	if _, err := parseServeFlags(args[2:], os.Stderr); err != nil {
		t.Errorf("ExecStart's flags: %v", err)
	}
	socket := unitSettings(t, "../../contrib/systemd/pullengine.socket")
	if socket["ListenStream"] != "%t/pullengine/pullengine.sock" || socket["SocketMode"] != "0600" {
		t.Errorf("socket: ListenStream %q, SocketMode %q", socket["ListenStream"], socket["SocketMode"])
	}
}
