// Package iattest checks that an iat.Store does what the interface says,
// for the tests of a Store of your own.
package iattest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcr-go/dcr/iat"
)

// Run checks s: spending, refunds, uses running out, expiry, revocation,
// listing and concurrent spending. s must be empty; advance moves its
// clock forward (a real store's clock may be waited for).
func Run(t *testing.T, s iat.Store, advance func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	is := func(err, want error, what string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}
	id, token, err := s.Issue(ctx, 2, time.Hour, "partner X")
	must(err)
	if len(token) < 32 {
		t.Errorf("a token of %d characters", len(token))
	}
	must(s.Spend(ctx, token))
	s.Refund(ctx, token)
	must(s.Spend(ctx, token))
	must(s.Spend(ctx, token))
	is(s.Spend(ctx, token), iat.ErrUsedUp, "a third use of two")
	is(s.Spend(ctx, "made-up-token-0123456789"), iat.ErrInvalid, "an unknown token")

	list, err := s.List(ctx)
	must(err)
	if len(list) != 1 || list[0].ID != id || list[0].UsesLeft != 0 || list[0].Note != "partner X" {
		t.Errorf("List: %+v", list)
	}

	_, short, err := s.Issue(ctx, 5, time.Second, "")
	must(err)
	advance(2 * time.Second)
	is(s.Spend(ctx, short), iat.ErrInvalid, "an expired token")
	s.Refund(ctx, short)
	is(s.Spend(ctx, short), iat.ErrInvalid, "an expired token after a refund")
	list, err = s.List(ctx)
	must(err)
	if len(list) != 1 {
		t.Errorf("List after expiry: %+v", list)
	}

	rid, revoked, err := s.Issue(ctx, 5, time.Hour, "")
	must(err)
	must(s.Revoke(ctx, rid))
	is(s.Spend(ctx, revoked), iat.ErrInvalid, "a revoked token")
	is(s.Revoke(ctx, rid), iat.ErrInvalid, "a second revocation")

	_, many, err := s.Issue(ctx, 7, time.Hour, "")
	must(err)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Spend(ctx, many) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 7 {
		t.Errorf("40 concurrent spends of 7 uses: %d succeeded", ok.Load())
	}

	for _, bad := range []struct {
		uses int
		ttl  time.Duration
	}{{0, time.Hour}, {1, 0}, {-1, time.Hour}} {
		if _, _, err := s.Issue(ctx, bad.uses, bad.ttl, ""); err == nil {
			t.Errorf("Issue(%d, %v) succeeded", bad.uses, bad.ttl)
		}
	}
}
