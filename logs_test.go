package dcr_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

// TestEventErrHoldsNoTokenOrResultMessage protects the promise of Event:
// a backend failure whose text holds the request's token and Authlete's
// resultMessage reaches Audit, and LogEvents' log, without either.
func TestEventErrHoldsNoTokenOrResultMessage(t *testing.T) {
	const message = "Service 21653835348762 is locked by admin@example.com."
	cause := &authlete.Error{Op: "get", StatusCode: 403, ResultCode: "A001215", ResultMessage: message}
	backend := &scripted{err: fmt.Errorf("decorator saw token %s: %w", ratToken, cause)}
	var logs bytes.Buffer
	var event dcr.Event
	logEvent := dcr.LogEvents(slog.New(slog.NewJSONHandler(&logs, nil)))
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger: slog.New(slog.DiscardHandler),
		Audit:  func(e dcr.Event) { event = e; logEvent(e) },
	}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")

	require.Error(t, event.Err)
	for _, text := range []string{event.Err.Error(), fmt.Sprintf("%+v", event), logs.String()} {
		assert.NotContains(t, text, ratToken)
		assert.NotContains(t, text, message)
		assert.NotContains(t, text, "admin@example.com")
	}
	assert.Equal(t, "decorator saw token REDACTED: authlete get: HTTP 403 A001215", event.Err.Error())
	assert.Contains(t, logs.String(), `"err":"decorator saw token REDACTED: authlete get: HTTP 403 A001215"`)
	assert.ErrorIs(t, event.Err, cause, "errors.Is still finds the failure")
	var ae *authlete.Error
	require.ErrorAs(t, event.Err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "A001215", ae.ResultCode)
	assert.Empty(t, ae.ResultMessage, "errors.As gives the failure without its resultMessage")
	assert.Equal(t, message, cause.ResultMessage, "the backend's own error is not changed")

	var other *dcr.PolicyError
	assert.False(t, errors.As(event.Err, &other))
}

// TestShortTokensDoNotGarbleLogs protects the operator's log from a caller
// who sends a one-letter token so that redaction rewrites every such
// letter of the failure's text.
func TestShortTokensDoNotGarbleLogs(t *testing.T) {
	backend := &scripted{err: &authlete.Error{Op: "get", Err: errors.New("connection refused")}}
	for _, tc := range []struct{ token, want string }{
		{"t", "authlete get: connection refused"},
		{"e", "authlete get: connection refused"},
		{"refused1", "authlete get: connection refused"},
	} {
		var logs bytes.Buffer
		h := newRouter(dcr.New(backend, dcr.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
		send(h, "GET", "/register/4711", "Bearer "+tc.token, "")
		assert.Contains(t, logs.String(), `"error":"`+tc.want+`"`, tc.token)
	}

	// A token long enough to be a secret is redacted wherever a backend
	// put it.
	var logs bytes.Buffer
	backend.err = fmt.Errorf("bad token %s", ratToken)
	h := newRouter(dcr.New(backend, dcr.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	assert.Contains(t, logs.String(), `"error":"bad token REDACTED"`)
	assert.NotContains(t, logs.String(), ratToken)
}
