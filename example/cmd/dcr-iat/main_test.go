package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcr-go/dcr/iat"
)

func TestUsesText(t *testing.T) {
	for n, want := range map[int]string{1: "1 use", 2: "2 uses", 10: "10 uses"} {
		if got := usesText(n); got != want {
			t.Errorf("usesText(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestListShowsEachTokenOnOneRow is a probe's finding (issue 25): a note
// with a line break or a tab (issue -note "$(printf 'x\nabc 0 ...')")
// printed rows of its own in list, which could pass for other tokens. A
// note that is not printable text is shown quoted.
func TestListShowsEachTokenOnOneRow(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tokens := []iat.Token{
		{ID: "0123456789abcdef", UsesLeft: 9, Expires: expires, Note: "x\nfedcba9876543210  0          2030-01-02T03:04:05Z  revoked"},
		{ID: "1123456789abcdef", UsesLeft: 1, Expires: expires, Note: "a\tb\r\u202eevil"},
		{ID: "2123456789abcdef", UsesLeft: 2, Expires: expires, Note: "partner X, café"},
	}
	var out strings.Builder
	if err := printTokens(&out, tokens); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+len(tokens) {
		t.Fatalf("%d lines for %d tokens:\n%s", len(lines), len(tokens), out.String())
	}
	for i, tok := range tokens {
		if !strings.HasPrefix(lines[i+1], tok.ID+" ") {
			t.Errorf("line %d is not token %s's: %q", i+1, tok.ID, lines[i+1])
		}
	}
	if !strings.HasSuffix(lines[3], "  partner X, café") {
		t.Errorf("a plain note is shown as it is: %q", lines[3])
	}
	if strings.ContainsRune(out.String(), '\u202e') || strings.ContainsAny(out.String(), "\t\r") {
		t.Errorf("a control character reached the terminal: %q", out.String())
	}
}

// TestRedisURLPasswordNeverPrinted is a probe's finding (issue 25): a
// DCR_REDIS_URL that does not parse was printed whole, password
// included, by Go's url.Error.
func TestRedisURLPasswordNeverPrinted(t *testing.T) {
	for _, u := range []string{"redis://:s3cr3t@[::1/0", "redis://:s3cr3t%zz@127.0.0.1:6379/0", "redis://u:s3cr3t@127.0.0.1:6379/x"} {
		var out strings.Builder
		err := run(context.Background(), []string{"list"}, &out, u)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(out.String(), "s3cr3t") {
			t.Errorf("%s: %v %q", u, err, out.String())
		}
	}
}
