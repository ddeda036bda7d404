// Package authlete is a small client for Authlete's Dynamic Client
// Registration API (API v3, and the legacy API v2): the four calls behind
// RFC 7591 registration and RFC 7592 client configuration.
//
// A Client is safe for concurrent use; create one and share it.
package authlete

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Client calls Authlete's DCR API: Register, Get, Update and Delete act
// for one OAuth client, authorized by its registration access token (RFC
// 7591 and 7592). The calls that administer the service with its own
// credentials alone are on Admin.
type Client struct {
	conn    *authleteapi.Conn
	total   time.Duration
	retries int
	backoff time.Duration
	admin   Admin
}

// New checks cfg and returns a Client. A missing credential, a
// non-numeric API v3 service ID, an unknown API version or a malformed
// base URL is an error.
func New(cfg Config) (*Client, error) {
	conn, err := cfg.conn()
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn}
	c.admin.c = c
	c.total = cfg.TotalTimeout
	if c.total == 0 {
		c.total = DefaultTotalTimeout
	}
	switch {
	case cfg.Retries == 0:
		c.retries = DefaultRetries
	case cfg.Retries > 0:
		c.retries = cfg.Retries
	}
	c.backoff = cfg.RetryBackoff
	if c.backoff <= 0 {
		c.backoff = DefaultRetryBackoff
	}
	return c, nil
}

// NewTransport is the transport of a Client without Config.HTTPClient: Go's
// default transport with a connection pool sized for one busy host, at
// most conns connections (zero means DefaultMaxConns), all of which may
// stay idle. Wrap it to trace the calls, and pass it as Config.HTTPClient:
//
//	HTTPClient: &http.Client{Transport: otelhttp.NewTransport(authlete.NewTransport(0))}
//
// Each call is then a client span in the trace of the context it is
// given, and carries the traceparent header to Authlete.
func NewTransport(conns int) *http.Transport {
	if conns <= 0 {
		conns = DefaultMaxConns
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxConnsPerHost:       conns,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// Register calls /client/registration (RFC 7591 registration). It is never
// retried: a retry after a lost answer could create a second client.
func (c *Client) Register(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, authleteapi.Register, req, false)
}

// Get calls /client/registration/get (RFC 7592 read), with retries.
func (c *Client) Get(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, authleteapi.Get, req, true)
}

// Update calls /client/registration/update (RFC 7592 update). It is never
// retried.
func (c *Client) Update(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, authleteapi.Update, req, false)
}

// Delete calls /client/registration/delete (RFC 7592 delete), with
// retries. A retry after a lost answer finds the client gone, and Authlete
// then answers UNAUTHORIZED: set Retries to -1 if that matters more than
// riding out Authlete's hiccups.
func (c *Client) Delete(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, authleteapi.Delete, req, true)
}

// attempt sends a DCR call once.
func (c *Client) attempt(ctx context.Context, op authleteapi.Op, body []byte) (*Response, error) {
	resp := new(Response)
	if err := c.send(ctx, op, "", nil, body, http.StatusOK, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// send makes one request of op to Authlete, bounded by the attempt
// timeout, and decodes an answer of status want into out (unless out is
// nil). Any other status is an *Error with Authlete's resultCode and
// resultMessage.
func (c *Client) send(ctx context.Context, op authleteapi.Op, clientID string, query url.Values, body []byte, want int, out any) error {
	a, err := c.conn.Send(ctx, op, clientID, query, body)
	if err != nil {
		return &Error{Op: op.Name(), StatusCode: a.StatusCode, Err: err}
	}
	if a.StatusCode != want {
		e := &Error{Op: op.Name(), StatusCode: a.StatusCode,
			RetryAfter: parseRetryAfter(a.Header.Get("Retry-After"), time.Now())}
		e.ResultCode, e.ResultMessage = a.Result()
		return e
	}
	if out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return &Error{Op: op.Name(), StatusCode: a.StatusCode, Err: malformed(err)}
		}
	}
	return nil
}
