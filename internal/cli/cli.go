// Package cli holds what the project's commands (cmd/...) share.
package cli

import (
	"flag"
	"fmt"
	"io"
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
