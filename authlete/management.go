package authlete

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Admin makes the calls that administer an Authlete service with the
// service's own credentials (its service access token, or API key and
// secret), with no OAuth client's consent: list, read, lock and delete
// any client, list a client's tokens, read the service's settings. They
// serve the clean-up of stale clients (package lifecycle) and the
// service doctor (package doctor); an RFC 7591/7592 endpoint needs none
// of them, only Client's Register, Get, Update and Delete, each
// authorized by a client's registration access token. Each call is one
// attempt, never retried. An Admin is safe for concurrent use.
type Admin struct {
	c *Client
}

// Admin returns the administration calls of c's service, made with c's
// credentials, connections and settings.
func (c *Client) Admin() *Admin { return &c.admin }

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
// DeleteClient and ListTokens take (and authletetest.CreateToken).
func (c ClientSummary) ID() string { return strconv.FormatInt(c.ClientID, 10) }

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
func (a *Admin) ListClients(ctx context.Context, start, end int) (*ClientPage, error) {
	page := new(ClientPage)
	q := url.Values{"start": {strconv.Itoa(start)}, "end": {strconv.Itoa(end)}}
	err := a.c.send(ctx, authleteapi.ListClients, "", q, nil, http.StatusOK, page)
	return page, err
}

// GetClient returns a client: GET /client/get/{clientId}.
func (a *Admin) GetClient(ctx context.Context, clientID string) (*ClientSummary, error) {
	client := new(ClientSummary)
	err := a.c.send(ctx, authleteapi.GetClient, clientID, nil, nil, http.StatusOK, client)
	return client, err
}

// DeleteClient deletes a client and its tokens: DELETE
// /client/delete/{clientId}. A client that does not exist is an *Error
// with StatusCode 404.
func (a *Admin) DeleteClient(ctx context.Context, clientID string) error {
	return a.c.send(ctx, authleteapi.DeleteClient, clientID, nil, nil, http.StatusNoContent, nil)
}

// LockClient sets a client's lock flag: POST
// /client/lock_flag/update/{clientIdentifier}. A locked client can get no
// token and cannot read or update its configuration; unlocking restores it.
func (a *Admin) LockClient(ctx context.Context, clientID string, locked bool) error {
	body, _ := json.Marshal(struct {
		ClientLocked bool `json:"clientLocked"`
	}{locked})
	return a.c.send(ctx, authleteapi.LockClient, clientID, nil, body, http.StatusOK, nil)
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
func (a *Admin) ListTokens(ctx context.Context, clientID string, start, end int) (*TokenPage, error) {
	page := new(TokenPage)
	q := url.Values{"clientIdentifier": {clientID}, "start": {strconv.Itoa(start)}, "end": {strconv.Itoa(end)}}
	err := a.c.send(ctx, authleteapi.ListTokens, "", q, nil, http.StatusOK, page)
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
func (a *Admin) Service(ctx context.Context) (*Service, error) {
	svc := new(Service)
	err := a.c.send(ctx, authleteapi.GetService, "", nil, nil, http.StatusOK, svc)
	return svc, err
}
