// Package cli holds what the project's commands (cmd/... and the
// example) share.
package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// FlagSet returns a flag set for the command name that writes its errors
// and, on -h, usage followed by the flags' defaults, to out. Parse returns
// errors rather than exit (flag.ContinueOnError); flag.ErrHelp after -h.
func FlagSet(name, usage string, out io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(out)
	flags.Usage = func() {
		fmt.Fprint(out, usage)
		flags.PrintDefaults()
	}
	return flags
}

// List is the items of a comma-separated list (a flag's or a variable's
// value), trimmed, without the blank ones: nil for "" or " , ".
func List(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
