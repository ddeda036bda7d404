package authlete

import (
	"net/http"
	"testing"
	"time"
)

// TestDefaults pins the defaults that New fills in.
func TestDefaults(t *testing.T) {
	c, err := New(Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "90", ServiceAccessToken: "t", APIVersion: "V3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.conn.Timeout != DefaultTimeout || c.total != DefaultTotalTimeout || c.retries != DefaultRetries ||
		c.backoff != DefaultRetryBackoff || c.conn.MaxResponse != DefaultMaxResponseBytes {
		t.Errorf("defaults: timeout %v, total %v, retries %d, backoff %v, max response %d", c.conn.Timeout, c.total, c.retries, c.backoff, c.conn.MaxResponse)
	}
	if c.conn.Prefix != "https://us.authlete.com/api/90" || c.conn.Authorization != "Bearer t" {
		t.Errorf("prefix %q, authorization %q", c.conn.Prefix, c.conn.Authorization)
	}
	tr := c.conn.HTTP.Transport.(*http.Transport)
	if tr.MaxConnsPerHost != DefaultMaxConns || tr.MaxIdleConnsPerHost != DefaultMaxConns || tr.MaxIdleConns != DefaultMaxConns {
		t.Errorf("pool: %d/%d/%d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}

	c, _ = New(Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "1", ServiceAccessToken: "t",
		Timeout: -1, TotalTimeout: -1, Retries: -1, RetryBackoff: time.Second, MaxConns: 3, MaxResponseBytes: 10})
	if c.conn.Timeout != -1 || c.total != -1 || c.retries != 0 || c.backoff != time.Second || c.conn.MaxResponse != 10 {
		t.Errorf("set: timeout %v, total %v, retries %d, backoff %v, max response %d", c.conn.Timeout, c.total, c.retries, c.backoff, c.conn.MaxResponse)
	}
	if tr := c.conn.HTTP.Transport.(*http.Transport); tr.MaxConnsPerHost != 3 {
		t.Errorf("MaxConns: %d", tr.MaxConnsPerHost)
	}
	c, _ = New(Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "1", ServiceAccessToken: "t", Retries: 1})
	if c.retries != 1 {
		t.Errorf("Retries 1: %d", c.retries)
	}
}
