package main

import (
	"io"
	"testing"
)

func TestServeMaxTagsFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 0}, {[]string{"--max-tags", "-1"}, -1}, {[]string{"--max-tags=500"}, 500}} {
		f, err := parseServeFlags(c.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if f.maxTags != c.want {
			t.Errorf("%v: maxTags %d, want %d", c.args, f.maxTags, c.want)
		}
	}
}
