package main

import (
	"strings"
	"testing"
)

// TestUsageColumns: in -h, every variable's description starts in one
// column, so that the list reads as a table; a name too long for the
// column has its description on the next line.
func TestUsageColumns(t *testing.T) {
	const column = usageColumn
	u := usage()
	env := u[strings.Index(u, "Environment:\n")+len("Environment:\n") : strings.Index(u, "\nFlags:")]
	lines := strings.Split(strings.TrimRight(env, "\n"), "\n")
	for i, line := range lines {
		name, rest, _ := strings.Cut(strings.TrimPrefix(line, "  "), " ")
		switch {
		case !strings.HasPrefix(line, "  "):
			t.Errorf("line %d is not indented: %q", i, line)
		case name == "": // a continuation
			if len(line) <= column || strings.TrimLeft(line, " ") != line[column:] {
				t.Errorf("line %d does not continue at column %d: %q", i, column, line)
			}
		case rest == "": // a long name alone
			if i+1 == len(lines) || !strings.HasPrefix(lines[i+1], strings.Repeat(" ", column)) {
				t.Errorf("the description of %s is not on the next line", name)
			}
		default:
			if len(line) <= column || line[column-1] != ' ' || line[column] == ' ' {
				t.Errorf("the description of %s does not start at column %d: %q", name, column, line)
			}
		}
	}
}
