package authlete

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// call sends one DCR call; idempotent calls (get, delete) are retried
// after failures that did not come from the request itself.
func (c *Client) call(ctx context.Context, op authleteapi.Op, req *Request, idempotent bool) (*Response, error) {
	// Without HTML escaping: json.Marshal would send each '<', '>' and '&'
	// of the client's metadata as six bytes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(req); err != nil { // cannot happen: Request holds only strings
		return nil, &Error{Op: op.Name(), Err: err}
	}
	body := buf.Bytes()
	if c.total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.total)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, op, body)
		if err == nil || !idempotent || attempt >= c.retries {
			return resp, err
		}
		wait, ok := c.retryWait(ctx, err, attempt)
		if !ok {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, err // no time left for another attempt
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// MaxRetryWait is the longest Retry-After that a retry waits for; a longer
// one ends the call with the error, so that the OAuth client can be told
// to come back later instead of being held.
const MaxRetryWait = 5 * time.Second

// retryWait says whether err is worth another attempt and how long to wait
// before it: exponential backoff with jitter, or Authlete's Retry-After.
func (c *Client) retryWait(ctx context.Context, err error, attempt int) (time.Duration, bool) {
	e, ok := err.(*Error)
	if !ok || ctx.Err() != nil {
		return 0, false // the caller has gone
	}
	switch e.StatusCode {
	case 0: // transport failure, including a timed-out attempt
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		// Including 429: Authlete counts every call, and a client
		// configuration request has proven nothing before Authlete
		// checks its token; a retry would spend the quota again.
		return 0, false
	}
	wait := c.backoff
	for i := 0; i < attempt && wait < MaxRetryWait; i++ {
		wait *= 2
	}
	wait = min(wait, MaxRetryWait)
	wait = wait/2 + rand.N(wait/2+1)
	if e.RetryAfter > MaxRetryWait {
		return 0, false
	}
	if e.RetryAfter > wait {
		wait = e.RetryAfter
	}
	return wait, true
}
