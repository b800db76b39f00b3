package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// singleDashLongFlags rewrites the single-dash spellings of fs's long
// flags ("-allow-path X", "-max-pulls=3"), which serve took before it
// parsed with pflag, to their double-dash form, with a warning on stderr
// naming the new spelling. They keep working for one release (README
// "Flags"). Values are left alone: the argument after a flag that takes
// one is never rewritten, nor anything after "--".
func singleDashLongFlags(fs *pflag.FlagSet, args []string, cmd string, stderr io.Writer) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if name, ok := singleDashName(fs, arg); ok {
			fmt.Fprintf(stderr, "pullengine %s: WARNING: -%s is deprecated and will stop working in the next release: write --%s\n", cmd, name, name)
			arg = "-" + arg
		}
		out = append(out, arg)
		if takesNextValue(fs, arg) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// singleDashName returns the long flag that arg names with one dash.
func singleDashName(fs *pflag.FlagSet, arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") || strings.HasPrefix(arg, "--") || len(arg) < 3 {
		return "", false
	}
	name, _, _ := strings.Cut(arg[1:], "=")
	return name, fs.Lookup(name) != nil
}

// takesNextValue says whether arg is a flag whose value is the next
// argument: a flag that needs a value and was given none with "=".
func takesNextValue(fs *pflag.FlagSet, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--"):
		name, _, hasValue := strings.Cut(arg[2:], "=")
		if hasValue {
			return false
		}
		f = fs.Lookup(name)
	case len(arg) == 2 && arg[0] == '-':
		f = fs.ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}
