// Package authlete is a small client for Authlete's Dynamic Client
// Registration API (API v3, and the legacy API v2): the four calls behind
// RFC 7591 registration and RFC 7592 client configuration.
//
// A Client is safe for concurrent use; create one and share it.
package authlete

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"time"
)

// Client calls Authlete's DCR API.
type Client struct {
	http          *http.Client
	prefix        string // e.g. https://us.authlete.com/api/123
	authorization string // the Authorization header value
	timeout       time.Duration
	maxResponse   int64
}

// New checks cfg and returns a Client. A missing credential, a
// non-numeric API v3 service ID, an unknown API version or a malformed
// base URL is an error.
func New(cfg Config) (*Client, error) {
	prefix, authorization, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	c := &Client{
		http:          cfg.HTTPClient,
		prefix:        prefix,
		authorization: authorization,
		timeout:       cfg.Timeout,
		maxResponse:   cfg.MaxResponseBytes,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxResponse <= 0 {
		c.maxResponse = DefaultMaxResponseBytes
	}
	if c.http == nil {
		conns := cfg.MaxConns
		if conns <= 0 {
			conns = DefaultMaxConns
		}
		c.http = &http.Client{Transport: newTransport(conns)}
	}
	return c, nil
}

// newTransport is Go's default transport with a connection pool sized for
// one busy host: at most conns connections, all of which may stay idle.
func newTransport(conns int) *http.Transport {
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

// Register calls /client/registration (RFC 7591 registration).
func (c *Client) Register(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, "register", "/client/registration", req)
}

// Get calls /client/registration/get (RFC 7592 read).
func (c *Client) Get(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, "get", "/client/registration/get", req)
}

// Update calls /client/registration/update (RFC 7592 update).
func (c *Client) Update(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, "update", "/client/registration/update", req)
}

// Delete calls /client/registration/delete (RFC 7592 delete).
func (c *Client) Delete(ctx context.Context, req *Request) (*Response, error) {
	return c.call(ctx, "delete", "/client/registration/delete", req)
}

func (c *Client) call(ctx context.Context, op, path string, req *Request) (*Response, error) {
	body, err := json.Marshal(req)
	if err != nil { // cannot happen: Request holds only strings
		return nil, &Error{Op: op, Err: err}
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.prefix+path, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	hreq.Header["Content-Type"] = []string{"application/json"}
	hreq.Header["Accept"] = []string{"application/json"}
	hreq.Header["Authorization"] = []string{c.authorization}

	hresp, err := c.http.Do(hreq)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, c.maxResponse+1))
	if err != nil {
		return nil, &Error{Op: op, StatusCode: hresp.StatusCode, Err: err}
	}
	if int64(len(data)) > c.maxResponse {
		return nil, &Error{Op: op, StatusCode: hresp.StatusCode, Err: ErrResponseTooLarge}
	}

	if hresp.StatusCode != http.StatusOK {
		e := &Error{Op: op, StatusCode: hresp.StatusCode,
			RetryAfter: parseRetryAfter(hresp.Header.Get("Retry-After"), time.Now())}
		var result struct{ ResultCode, ResultMessage string }
		if json.Unmarshal(data, &result) == nil {
			e.ResultCode, e.ResultMessage = result.ResultCode, result.ResultMessage
		}
		return nil, e
	}
	resp := new(Response)
	if err := json.Unmarshal(data, resp); err != nil {
		return nil, &Error{Op: op, StatusCode: hresp.StatusCode, Err: malformed(err)}
	}
	return resp, nil
}
