package main

import (
	"io"
	"testing"
)

// --max-retries 0 allows no retries (httpapi's zero MaxRetries would be
// its default); --listen turns the Host check on with the --allow-host
// names.
func TestHandlerOptions(t *testing.T) {
	for _, c := range []struct {
		args       []string
		maxRetries int
		hostCheck  bool
	}{
		{nil, 10, false},
		{[]string{"--max-retries", "0"}, -1, false},
		{[]string{"--max-retries", "-3"}, -1, false},
		{[]string{"--max-retries", "2", "--listen", "127.0.0.1:0", "--allow-host", "b.internal"}, 2, true},
	} {
		f, err := parseServeFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		o := f.handlerOptions(nil)
		if o.MaxRetries != c.maxRetries || o.HostCheck != c.hostCheck {
			t.Errorf("%q: MaxRetries %d, HostCheck %v; want %d, %v", c.args, o.MaxRetries, o.HostCheck, c.maxRetries, c.hostCheck)
		}
		if c.hostCheck && (len(o.AllowedHosts) != 1 || o.AllowedHosts[0] != "b.internal") {
			t.Errorf("%q: AllowedHosts %q", c.args, o.AllowedHosts)
		}
	}
}
