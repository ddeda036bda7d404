package cli

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
)

func TestFlagSet(t *testing.T) {
	var out strings.Builder
	flags := FlagSet("cmd", "Usage: cmd [flags]\n", &out)
	flags.String("name", "x", "a name")
	if err := flags.Parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "Usage: cmd [flags]\n") || !strings.Contains(got, "-name string") {
		t.Errorf("-h printed %q, want the usage then the flags", got)
	}
	out.Reset()
	if err := flags.Parse([]string{"-nope"}); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-nope: %v, want an error", err)
	}
	if !strings.Contains(out.String(), "flag provided but not defined: -nope") {
		t.Errorf("-nope printed %q", out.String())
	}
}

func TestList(t *testing.T) {
	for v, want := range map[string][]string{
		"":             nil,
		" , ,":         nil,
		"a":            {"a"},
		" a , b,,c ":   {"a", "b", "c"},
		"https://x, *": {"https://x", "*"},
		"a b, c\td":    {"a b", "c\td"},
	} {
		if got := List(v); !reflect.DeepEqual(got, want) {
			t.Errorf("List(%q) = %q, want %q", v, got, want)
		}
	}
}
