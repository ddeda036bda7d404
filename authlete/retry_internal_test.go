package authlete

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestRetryWait pins the backoff: it doubles from RetryBackoff for each
// attempt, up to MaxRetryWait, with jitter in its upper half; a longer
// Retry-After wins up to MaxRetryWait, and a longer one ends the call.
func TestRetryWait(t *testing.T) {
	ctx := context.Background()
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", ServiceAPIKey: "1", ServiceAccessToken: "t", RetryBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	unavailable := &Error{StatusCode: http.StatusServiceUnavailable}
	for attempt, full := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, MaxRetryWait, MaxRetryWait, MaxRetryWait} {
		lo, hi := full, time.Duration(0)
		for i := 0; i < 200; i++ { // jitter: sample the range
			wait, ok := c.retryWait(ctx, unavailable, attempt)
			if !ok {
				t.Fatalf("attempt %d: not retried", attempt)
			}
			lo, hi = min(lo, wait), max(hi, wait)
		}
		if lo < full/2 || hi > full {
			t.Errorf("attempt %d: waits in [%v, %v], want within [%v, %v]", attempt, lo, hi, full/2, full)
		}
		if hi-lo < full/8 {
			t.Errorf("attempt %d: waits in [%v, %v]: no jitter", attempt, lo, hi)
		}
	}

	for _, tc := range []struct {
		name       string
		err        error
		retryAfter time.Duration
		ok         bool
		want       time.Duration // 0: the backoff
	}{
		{"transport", &Error{Err: errors.New("reset")}, 0, true, 0},
		{"502", &Error{StatusCode: 502}, 0, true, 0},
		{"504", &Error{StatusCode: 504}, 0, true, 0},
		{"429 never", &Error{StatusCode: 429}, 0, false, 0},
		{"500", &Error{StatusCode: 500}, 0, false, 0},
		{"401", &Error{StatusCode: 401}, 0, false, 0},
		{"not an *Error", errors.New("x"), 0, false, 0},
		{"longer Retry-After wins", &Error{StatusCode: 503}, 2 * time.Second, true, 2 * time.Second},
		{"Retry-After of MaxRetryWait", &Error{StatusCode: 503}, MaxRetryWait, true, MaxRetryWait},
		{"Retry-After over MaxRetryWait", &Error{StatusCode: 503}, MaxRetryWait + time.Second, false, 0},
		{"shorter Retry-After loses", &Error{StatusCode: 503}, time.Millisecond, true, 0},
	} {
		if e, ok := tc.err.(*Error); ok {
			e.RetryAfter = tc.retryAfter
		}
		wait, ok := c.retryWait(ctx, tc.err, 0)
		if ok != tc.ok {
			t.Errorf("%s: retried %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		switch {
		case !ok:
		case tc.want != 0 && wait != tc.want:
			t.Errorf("%s: wait %v, want %v", tc.name, wait, tc.want)
		case tc.want == 0 && (wait < 50*time.Millisecond || wait > 100*time.Millisecond):
			t.Errorf("%s: wait %v, want the first backoff, 50–100 ms", tc.name, wait)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := c.retryWait(cancelled, unavailable, 0); ok {
		t.Error("retried for a caller that has gone")
	}
}
