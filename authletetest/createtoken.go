package authletetest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/internal/authleteapi"
)

// CreatedToken is Authlete's answer to /auth/token/create.
type CreatedToken struct {
	ResultCode   string `json:"resultCode"`
	Action       string `json:"action"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// ExpiresAt is milliseconds since the Unix epoch.
	ExpiresAt int64 `json:"expiresAt"`
}

// ErrNotNumericClientID: CreateToken was given a client ID that is not
// one of Authlete's numbers.
var ErrNotNumericClientID = errors.New("the client ID is not a number")

// CreateToken issues an access token to a client outside any OAuth flow,
// as Authlete's /auth/token/create does: for tests and demonstrations of
// a client in use. It calls the service of cfg (Server.Config, or an
// emulator or Authlete elsewhere) with its credentials, its HTTPClient
// (nil: http.DefaultClient), Timeout and MaxResponseBytes (or their
// defaults), once. clientID is the client_id of the registration, as
// authlete.Admin's calls take it; Authlete wants it as a number, so
// another one (an alias) is an *authlete.Error that wraps
// ErrNotNumericClientID, and no call is made. Failures are
// *authlete.Error, as the Client's are; so is an answer whose action is
// not OK.
func CreateToken(ctx context.Context, cfg authlete.Config, clientID, subject string, scopes []string) (*CreatedToken, error) {
	op := authleteapi.CreateToken
	n, err := strconv.ParseInt(clientID, 10, 64)
	if err != nil || n <= 0 {
		return nil, &authlete.Error{Op: op.Name(), Err: ErrNotNumericClientID}
	}
	conn, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	req := map[string]any{"grantType": "AUTHORIZATION_CODE", "clientId": n, "subject": subject}
	if len(scopes) > 0 {
		req["scopes"] = scopes // an array, or absent: never null
	}
	body, _ := json.Marshal(req)
	a, err := conn.Send(ctx, op, "", nil, body)
	if err != nil {
		return nil, &authlete.Error{Op: op.Name(), StatusCode: a.StatusCode, Err: err}
	}
	e := &authlete.Error{Op: op.Name(), StatusCode: a.StatusCode}
	if a.StatusCode != http.StatusOK {
		e.ResultCode, e.ResultMessage = a.Result()
		return nil, e
	}
	t := new(CreatedToken)
	if err := json.Unmarshal(a.Body, t); err != nil {
		e.Err = fmt.Errorf("%w: %v", authlete.ErrMalformedResponse, err)
		return nil, e
	}
	if t.Action != "OK" {
		e.ResultCode = t.ResultCode
		return nil, e
	}
	return t, nil
}

// newConn is the connection of CreateToken to the service of cfg.
func newConn(cfg authlete.Config) (*authleteapi.Conn, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return authleteapi.NewConn(authleteapi.Service{BaseURL: cfg.BaseURL, Version: string(cfg.APIVersion),
		APIKey: cfg.ServiceAPIKey, APISecret: cfg.ServiceAPISecret, AccessToken: cfg.ServiceAccessToken,
		HTTP: hc, Timeout: cmp.Or(cfg.Timeout, authlete.DefaultTimeout),
		MaxResponse: cmp.Or(max(cfg.MaxResponseBytes, 0), authlete.DefaultMaxResponseBytes)})
}
