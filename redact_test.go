package dcr_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

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
		h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
		send(h, "GET", "/register/4711", "Bearer "+tc.token, "")
		assert.Contains(t, logs.String(), `"error":"`+tc.want+`"`, tc.token)
	}

	// A token long enough to be a secret is redacted wherever a backend
	// put it.
	var logs bytes.Buffer
	backend.err = fmt.Errorf("bad token %s", ratToken)
	h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil))}))
	send(h, "GET", "/register/4711", "Bearer "+ratToken, "")
	assert.Contains(t, logs.String(), `"error":"bad token REDACTED"`)
	assert.NotContains(t, logs.String(), ratToken)
}

// b64token is the alphabet of RFC 6750 bearer tokens, without the
// trailing '='.
const b64token = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

// TestInvariantLogsHoldNoToken: the request's token (a registration
// access token or an initial access token), and a token the request
// never carried (another client's, Authlete's service access token),
// echoed by the Backend or a hook in every place one could put them
// (Authlete's resultMessage with INTERNAL_SERVER_ERROR and with an HTTP
// refusal, a Backend's error text, a URL in a transport error, the
// errors of the initial access token verifier and of a policy), never
// reach the Handler's log or LogEvents'.
func TestInvariantLogsHoldNoToken(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		token := rapid.StringOfN(rapid.SampledFrom([]rune(b64token)), minSecretLen, 64, -1).Draw(rt, "token")
		foreign := base64.RawURLEncoding.EncodeToString(rapid.SliceOfN(rapid.Byte(), 16, 48).Draw(rt, "foreign token bytes"))
		echo := rapid.SampledFrom([]string{token, foreign, token + " " + foreign, "Bearer " + token, "token=" + foreign + "&x=1"}).Draw(rt, "echo")
		place := rapid.SampledFrom([]string{"resultMessage", "refusal resultMessage", "backend error", "URL", "verifier", "verifier failure", "policy"}).Draw(rt, "place")
		method := rapid.SampledFrom([]string{"POST", "GET", "PUT", "DELETE"}).Draw(rt, "method")

		var resp *authlete.Response
		var err error
		opts := dcr.Options{}
		switch place {
		case "resultMessage":
			resp = &authlete.Response{Action: authlete.ActionInternalServerError, ResultCode: "A001101",
				ResultMessage: "[A001101] Authlete Server error: " + echo, ResponseContent: `{"error":"server_error"}`}
		case "refusal resultMessage":
			err = &authlete.Error{Op: "get", StatusCode: 500, ResultCode: "A001101", ResultMessage: "[A001101] " + echo}
		case "backend error":
			err = fmt.Errorf("decorator: %s: %w", echo, &authlete.Error{Op: "get", Err: errors.New("connection reset")})
		case "URL":
			err = &authlete.Error{Op: "get", Err: &url.Error{Op: "Post", URL: "https://authlete.example/api?" + echo, Err: context.DeadlineExceeded}}
		case "verifier":
			method = "POST"
			opts.InitialAccessToken = func(context.Context, string) error { return errors.New("unknown token " + echo) }
		case "verifier failure":
			method = "POST"
			opts.InitialAccessToken = func(context.Context, string) error {
				return fmt.Errorf("store: %w: %s", dcr.ErrVerifierFailed, echo)
			}
		case "policy":
			opts.Policies = []dcr.Policy{func(*http.Request, dcr.Metadata) error { return errors.New("policy store: " + echo) }}
		}
		var logs bytes.Buffer
		jsonLog := slog.NewJSONHandler(&logs, nil)
		opts.Logger = slog.New(jsonLog)
		opts.Audit = dcr.LogEvents(slog.New(jsonLog))
		h := newRouter(dcr.New(&scripted{resp: resp, err: err}, opts))
		path := "/register/4711"
		if method == "POST" {
			path = "/register"
		}
		body := ""
		if method == "POST" || method == "PUT" {
			body = `{}`
		}
		send(h, method, path, "Bearer "+token, body)
		if logs.Len() == 0 {
			rt.Fatal("nothing was logged")
		}
		for _, secret := range []string{token, foreign} {
			if strings.Contains(logs.String(), secret) {
				rt.Fatalf("%s echoed in %s reached the log:\n%s", secret, place, logs.String())
			}
		}
	})
}
