package iattoken

import (
	"testing"
	"time"
)

func TestHash(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got, want := Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash(abc) = %s, want %s", got, want)
	}
}

func TestCheckIssue(t *testing.T) {
	for _, tc := range []struct {
		uses int
		ttl  time.Duration
		ok   bool
	}{
		{1, time.Nanosecond, true},
		{10, 7 * 24 * time.Hour, true},
		{0, time.Hour, false},
		{-1, time.Hour, false},
		{1, 0, false},
		{1, -time.Second, false},
	} {
		if err := CheckIssue(tc.uses, tc.ttl); (err == nil) != tc.ok {
			t.Errorf("CheckIssue(%d, %v) = %v, want ok %v", tc.uses, tc.ttl, err, tc.ok)
		}
	}
}
