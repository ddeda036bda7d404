package authlete

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// The calls below manage the service's clients and read its settings, for
// the clean-up of stale clients (package lifecycle) and the service
// doctor (package doctor). Each is one attempt, never retried.

// ClientSummary is the part of Authlete's Client object that the lifecycle
// of dynamically registered clients needs.
type ClientSummary struct {
	// ClientID is Authlete's number for the client; ID is the client_id
	// that the calls take.
	ClientID              int64  `json:"clientId"`
	ClientName            string `json:"clientName,omitempty"`
	DynamicallyRegistered bool   `json:"dynamicallyRegistered"`
	// ClientSource is where the client comes from: DYNAMIC_REGISTRATION
	// (RFC 7591), METADATA_DOCUMENT (a Client ID Metadata Document),
	// AUTOMATIC_REGISTRATION or EXPLICIT_REGISTRATION (OpenID Federation)
	// or STATIC_REGISTRATION (the console); "" from an Authlete that does
	// not report it. See Dynamic.
	ClientSource string `json:"clientSource,omitempty"`
	Locked       bool   `json:"locked"`
	// CreatedAt and ModifiedAt are milliseconds since the Unix epoch.
	CreatedAt  int64 `json:"createdAt"`
	ModifiedAt int64 `json:"modifiedAt"`
}

// ID is the client's client_id, the string that GetClient, LockClient,
// DeleteClient, ListTokens and CreateToken take.
func (c ClientSummary) ID() string { return strconv.FormatInt(c.ClientID, 10) }

// ErrNotNumericClientID: CreateToken was given a client ID that is not
// one of Authlete's numbers.
var ErrNotNumericClientID = errors.New("the client ID is not a number")

// Dynamic reports whether the client was registered through RFC 7591
// dynamic registration: its ClientSource says so or, when Authlete does
// not report one, dynamicallyRegistered does. A client of a metadata
// document or of OpenID Federation is not, though Authlete may mark it
// dynamicallyRegistered.
func (c ClientSummary) Dynamic() bool {
	if c.ClientSource != "" {
		return c.ClientSource == "DYNAMIC_REGISTRATION"
	}
	return c.DynamicallyRegistered
}

// ClientPage is one page of the service's clients.
type ClientPage struct {
	Start      int             `json:"start"`
	End        int             `json:"end"`
	TotalCount int             `json:"totalCount"`
	Clients    []ClientSummary `json:"clients"`
}

// ListClients returns the clients start (inclusive) to end (exclusive) of
// the service: GET /client/get/list.
func (c *Client) ListClients(ctx context.Context, start, end int) (*ClientPage, error) {
	page := new(ClientPage)
	q := url.Values{"start": {strconv.Itoa(start)}, "end": {strconv.Itoa(end)}}
	err := c.send(ctx, "list clients", http.MethodGet, "/client/get/list?"+q.Encode(), nil, http.StatusOK, page)
	return page, err
}

// GetClient returns a client: GET /client/get/{clientId}.
func (c *Client) GetClient(ctx context.Context, clientID string) (*ClientSummary, error) {
	client := new(ClientSummary)
	err := c.send(ctx, "get client", http.MethodGet, "/client/get/"+url.PathEscape(clientID), nil, http.StatusOK, client)
	return client, err
}

// DeleteClient deletes a client and its tokens: DELETE
// /client/delete/{clientId}. A client that does not exist is an *Error
// with StatusCode 404.
func (c *Client) DeleteClient(ctx context.Context, clientID string) error {
	return c.send(ctx, "delete client", http.MethodDelete, "/client/delete/"+url.PathEscape(clientID), nil, http.StatusNoContent, nil)
}

// LockClient sets a client's lock flag: POST
// /client/lock_flag/update/{clientIdentifier}. A locked client can get no
// token and cannot read or update its configuration; unlocking restores it.
func (c *Client) LockClient(ctx context.Context, clientID string, locked bool) error {
	body, _ := json.Marshal(struct {
		ClientLocked bool `json:"clientLocked"`
	}{locked})
	return c.send(ctx, "lock client", http.MethodPost, "/client/lock_flag/update/"+url.PathEscape(clientID), body, http.StatusOK, nil)
}

// TokenSummary is the part of Authlete's access token record that tells
// whether a client is in use. The times are milliseconds since the Unix
// epoch; 0 means none.
type TokenSummary struct {
	ClientID              int64  `json:"clientId"`
	Subject               string `json:"subject,omitempty"`
	AccessTokenExpiresAt  int64  `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt int64  `json:"refreshTokenExpiresAt"`
	CreatedAt             int64  `json:"createdAt"`
}

// Live reports whether the access token or its refresh token is still
// valid at nowMillis.
func (t TokenSummary) Live(nowMillis int64) bool {
	return t.AccessTokenExpiresAt > nowMillis || t.RefreshTokenExpiresAt > nowMillis
}

// TokenPage is one page of a client's access tokens.
type TokenPage struct {
	Start        int            `json:"start"`
	End          int            `json:"end"`
	TotalCount   int            `json:"totalCount"`
	AccessTokens []TokenSummary `json:"accessTokens"`
}

// ListTokens returns the access tokens start (inclusive) to end
// (exclusive) of a client: GET /auth/token/get/list?clientIdentifier=.
func (c *Client) ListTokens(ctx context.Context, clientID string, start, end int) (*TokenPage, error) {
	page := new(TokenPage)
	q := url.Values{"clientIdentifier": {clientID}, "start": {strconv.Itoa(start)}, "end": {strconv.Itoa(end)}}
	err := c.send(ctx, "list tokens", http.MethodGet, "/auth/token/get/list?"+q.Encode(), nil, http.StatusOK, page)
	return page, err
}

// Service is the part of Authlete's Service object that decides how DCR
// and MCP clients fare.
type Service struct {
	APIKey      int64  `json:"apiKey"`
	ServiceName string `json:"serviceName,omitempty"`
	// DynamicRegistrationSupported turns RFC 7591 registration on.
	DynamicRegistrationSupported bool `json:"dynamicRegistrationSupported"`
	// RegistrationEndpoint and RegistrationManagementEndpoint: Authlete
	// builds registration_client_uri from the second, or else the first.
	RegistrationEndpoint           string `json:"registrationEndpoint,omitempty"`
	RegistrationManagementEndpoint string `json:"registrationManagementEndpoint,omitempty"`
	// UnauthorizedOnClientConfigSupported makes a bad registration access
	// token UNAUTHORIZED (RFC 7592's 401) instead of BAD_REQUEST.
	UnauthorizedOnClientConfigSupported bool `json:"unauthorizedOnClientConfigSupported"`
	// LoopbackRedirectionURIVariable lets a loopback redirect URI match a
	// registered one on any port (RFC 8252 §7.3).
	LoopbackRedirectionURIVariable bool `json:"loopbackRedirectionUriVariable"`
	// DCRScopeUsedAsRequestable makes a registered scope the client's
	// requestable scopes, enforced at the authorization endpoint.
	DCRScopeUsedAsRequestable bool `json:"dcrScopeUsedAsRequestable"`
	// DCRDuplicateSoftwareIDBlocked refuses a registration whose
	// software_id was used before.
	DCRDuplicateSoftwareIDBlocked bool `json:"dcrDuplicateSoftwareIdBlocked"`

	// The Client ID Metadata Document (CIMD) settings: a client ID that
	// is an https URL of the client's metadata.
	ClientIDMetadataDocumentSupported bool     `json:"clientIdMetadataDocumentSupported"`
	HTTPAliasProhibited               bool     `json:"httpAliasProhibited"`
	CIMDHTTPPermitted                 bool     `json:"cimdHttpPermitted"`
	CIMDQueryPermitted                bool     `json:"cimdQueryPermitted"`
	CIMDAllowlistEnabled              bool     `json:"cimdAllowlistEnabled"`
	CIMDAllowlist                     []string `json:"cimdAllowlist,omitempty"`
	CIMDMetadataPolicyEnabled         bool     `json:"cimdMetadataPolicyEnabled"`
	// CIMDMetadataPolicy is an OpenID Federation 1.0 §6.1 metadata policy,
	// as JSON text.
	CIMDMetadataPolicy string `json:"cimdMetadataPolicy,omitempty"`
}

// Service reads the service's settings: GET /service/get (API v3; with API
// v2, /api/service/get). A service access token without the permission to
// view the service is an *Error with StatusCode 403.
func (c *Client) Service(ctx context.Context) (*Service, error) {
	svc := new(Service)
	err := c.send(ctx, "get service", http.MethodGet, "/service/get", nil, http.StatusOK, svc)
	return svc, err
}

// CreatedToken is Authlete's answer to /auth/token/create.
type CreatedToken struct {
	ResultCode   string `json:"resultCode"`
	Action       string `json:"action"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// ExpiresAt is milliseconds since the Unix epoch.
	ExpiresAt int64 `json:"expiresAt"`
}

// CreateToken issues an access token to a client outside any OAuth flow,
// as Authlete's /auth/token/create does: for tests and demonstrations of
// a client in use. clientID is the client_id of the registration, as the
// other calls take it; Authlete wants it as a number, so another one
// (an alias) is an *Error that wraps ErrNotNumericClientID, and no call
// is made. An answer whose action is not OK is an *Error.
func (c *Client) CreateToken(ctx context.Context, clientID string, subject string, scopes []string) (*CreatedToken, error) {
	n, err := strconv.ParseInt(clientID, 10, 64)
	if err != nil || n <= 0 {
		return nil, &Error{Op: "create token", Err: ErrNotNumericClientID}
	}
	req := map[string]any{"grantType": "AUTHORIZATION_CODE", "clientId": n, "subject": subject}
	if len(scopes) > 0 {
		req["scopes"] = scopes // an array, or absent: never null
	}
	body, _ := json.Marshal(req)
	t := new(CreatedToken)
	if err := c.send(ctx, "create token", http.MethodPost, "/auth/token/create", body, http.StatusOK, t); err != nil {
		return nil, err
	}
	if t.Action != "OK" {
		return nil, &Error{Op: "create token", StatusCode: http.StatusOK, ResultCode: t.ResultCode}
	}
	return t, nil
}
