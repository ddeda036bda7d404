package main

import "testing"

func TestUsesText(t *testing.T) {
	for n, want := range map[int]string{1: "1 use", 2: "2 uses", 10: "10 uses"} {
		if got := usesText(n); got != want {
			t.Errorf("usesText(%d) = %q, want %q", n, got, want)
		}
	}
}
