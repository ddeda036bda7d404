package authlete

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Causes that an Error wraps when Authlete's answer could not be used.
var (
	// ErrMalformedResponse: the answer was not the JSON Authlete sends.
	ErrMalformedResponse = errors.New("malformed response")
	// ErrResponseTooLarge: the answer was longer than MaxResponseBytes.
	ErrResponseTooLarge = authleteapi.ErrResponseTooLarge
)

// Error is a failed call to Authlete: Authlete refused the call itself
// (an HTTP status other than 200), it could not be reached, or its answer
// could not be read. Use errors.As to inspect it.
//
// Its text is meant for logs: it holds Authlete's resultMessage, which
// may describe the service's configuration, so never send it to an OAuth
// client. It never holds tokens or service credentials.
type Error struct {
	// Op is the call: "register", "get", "update", "delete" or "check",
	// or one of Admin's: "list clients", "get client", "delete client",
	// "lock client", "list tokens", "get service".
	Op string
	// StatusCode is the HTTP status of Authlete's answer, 0 if there was
	// none (a transport failure).
	StatusCode int
	// ResultCode and ResultMessage are Authlete's, when the answer had them.
	ResultCode    string
	ResultMessage string
	// RetryAfter is the delay asked by a Retry-After header (with 429 or
	// 503), 0 if none.
	RetryAfter time.Duration
	// Err is the cause: a transport or context error, ErrMalformedResponse
	// or ErrResponseTooLarge. Nil when Authlete answered with a refusal.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("authlete " + e.Op + ":")
	if e.StatusCode != 0 {
		b.WriteString(" HTTP " + strconv.Itoa(e.StatusCode))
	}
	if e.ResultCode != "" {
		b.WriteString(" " + e.ResultCode)
	}
	if e.ResultMessage != "" {
		b.WriteString(" " + strconv.Quote(e.ResultMessage))
	}
	if e.Err != nil {
		if e.StatusCode != 0 || e.ResultCode != "" || e.ResultMessage != "" {
			b.WriteString(":")
		}
		b.WriteString(" " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Refused reports whether Authlete refused the call's credentials or
// service: HTTP 401 (a wrong service access token or API secret), 403 (a
// token without the permission, a locked service) or 404 (no such
// service). Retrying will not help; the configuration must change.
func (e *Error) Refused() bool {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

// Transport reports whether the call failed before Authlete answered:
// connection refused or dropped, a timeout, a cancelled context.
func (e *Error) Transport() bool { return e.StatusCode == 0 }

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. It returns 0 for anything else.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func malformed(err error) error {
	return fmt.Errorf("%w: %v", ErrMalformedResponse, err)
}
