package authletetest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Result codes: the success codes are Authlete's; the error codes follow
// Authlete's shape but are the emulator's own.
var resultCodes = map[authleteapi.Op]struct{ ok, metadata, redirect, token, full string }{
	authleteapi.Register: {"A202001", "A202201", "A202202", "", "A202301"},
	authleteapi.Get:      {"A217001", "", "", "A217301", ""},
	authleteapi.Update:   {"A213001", "A213201", "A213202", "A213301", ""},
	authleteapi.Delete:   {"A216001", "", "", "A216301", ""},
}

// clientInformation is the responseContent of CREATED, OK and UPDATED:
// RFC 7591 §3.2.1 and RFC 7592 §3.
type clientInformation struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	*metadata
}

func (e *Emulator) register(req *authlete.Request) *authlete.Response {
	codes := resultCodes[authleteapi.Register]
	if e.opts.NoDynamicRegistration {
		const code = "A202302"
		msg := "[" + code + "] The service does not support dynamic client registration."
		return &authlete.Response{ResultCode: code, ResultMessage: msg, Action: authlete.ActionBadRequest,
			ResponseContent: errorContent("invalid_request", msg, code)}
	}
	m, _, merr := parseMetadata(req.JSON, e.opts.AuthMethods)
	if merr != nil {
		return badMetadata(codes.metadata, codes.redirect, merr)
	}
	token := randomString(32)
	now := e.opts.Now()
	c := &client{tokenHash: sha256.Sum256([]byte(token)), issuedAt: now, modified: now, meta: m, source: "DYNAMIC_REGISTRATION"}
	if m.TokenEndpointAuthMethod != "none" {
		c.secret = randomString(64)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.DuplicateSoftwareIDBlocked && m.SoftwareID != "" {
		if e.softwareIDs[m.SoftwareID] {
			return badMetadata(codes.metadata, "", invalidMetadata("The software ID '%s' has been used already.", m.SoftwareID))
		}
		e.softwareIDs[m.SoftwareID] = true
	}
	if e.opts.MaxClients > 0 && len(e.clients) >= e.opts.MaxClients {
		msg := "[" + codes.full + "] The service holds as many clients as it may."
		return &authlete.Response{ResultCode: codes.full, ResultMessage: msg, Action: authlete.ActionInternalServerError,
			ResponseContent: errorContent("server_error", msg, codes.full)}
	}
	for c.id == "" || e.clients[c.id] != nil {
		c.id = randomClientID()
	}
	e.numbered++ // never reused: a deletion must not make pages overlap
	c.number = e.numbered
	e.clients[c.id] = c
	return e.success(authlete.ActionCreated, codes.ok, "The client was created with id "+c.id+".", c, token)
}

func (e *Emulator) get(req *authlete.Request) *authlete.Response {
	codes := resultCodes[authleteapi.Get]
	e.mu.Lock()
	defer e.mu.Unlock() // success reads c, which update may be changing
	c := e.authenticate(req)
	if c == nil || c.locked {
		return e.badToken(codes.token)
	}
	return e.success(authlete.ActionOK, codes.ok, "The client information has been returned.", c, req.Token)
}

func (e *Emulator) update(req *authlete.Request) *authlete.Response {
	codes := resultCodes[authleteapi.Update]
	m, raw, merr := parseMetadata(req.JSON, e.opts.AuthMethods)
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.authenticate(req)
	if c == nil || c.locked {
		return e.badToken(codes.token)
	}
	if merr != nil {
		return badMetadata(codes.metadata, codes.redirect, merr)
	}
	// RFC 7592 §2.2: the body names the client, carries no server-issued
	// values, and a client_secret in it must be the current one.
	var id, secret string
	if json.Unmarshal(raw["client_id"], &id) != nil || id != c.id {
		return badMetadata(codes.metadata, "", invalidMetadata("The value of 'client_id' does not identify the client."))
	}
	// A client that sends back what it read echoes its
	// registration_client_uri: Authlete's own example of the call does,
	// and is answered UPDATED. Another URI, and the other values the
	// server issues, are refused.
	var uri string
	if v, ok := raw["registration_client_uri"]; ok && (json.Unmarshal(v, &uri) != nil || uri != e.opts.ManagementEndpoint+"/"+c.id) {
		return badMetadata(codes.metadata, "", invalidMetadata("The value of 'registration_client_uri' is not the client's."))
	}
	for _, name := range []string{"registration_access_token", "client_secret_expires_at", "client_id_issued_at"} {
		if _, ok := raw[name]; ok {
			return badMetadata(codes.metadata, "", invalidMetadata("The request must not contain '%s'.", name))
		}
	}
	if v, ok := raw["client_secret"]; ok && (json.Unmarshal(v, &secret) != nil || secret != c.secret) {
		return badMetadata(codes.metadata, "", invalidMetadata("The value of 'client_secret' does not match."))
	}
	switch {
	case m.TokenEndpointAuthMethod == "none":
		c.secret = ""
	case c.secret == "":
		c.secret = randomString(64)
	}
	c.meta, c.modified = m, e.opts.Now()
	return e.success(authlete.ActionUpdated, codes.ok, "The client has been updated.", c, req.Token)
}

func (e *Emulator) delete(req *authlete.Request) *authlete.Response {
	codes := resultCodes[authleteapi.Delete]
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.authenticate(req)
	if c == nil {
		return e.badToken(codes.token)
	}
	delete(e.clients, c.id)
	e.dropTokens(c.id)
	return &authlete.Response{ResultCode: codes.ok, ResultMessage: "[" + codes.ok + "] The client has been deleted.",
		Action: authlete.ActionDeleted}
}

// authenticate returns the client that req names if req's token is its
// registration access token. The caller holds e.mu.
func (e *Emulator) authenticate(req *authlete.Request) *client {
	c := e.clients[req.ClientID]
	if c == nil || req.Token == "" {
		return nil
	}
	h := sha256.Sum256([]byte(req.Token))
	if subtle.ConstantTimeCompare(h[:], c.tokenHash[:]) != 1 {
		return nil
	}
	return c
}

// success is the answer with the client's information; token is its
// registration access token, which the emulator does not store. The caller
// holds e.mu.
func (e *Emulator) success(action authlete.Action, code, message string, c *client, token string) *authlete.Response {
	info := clientInformation{
		ClientID:                c.id,
		ClientSecret:            c.secret,
		ClientIDIssuedAt:        c.issuedAt.Unix(),
		RegistrationAccessToken: token,
		RegistrationClientURI:   e.opts.ManagementEndpoint + "/" + c.id,
		metadata:                c.meta,
	}
	if c.secret != "" {
		var never int64
		info.ClientSecretExpiresAt = &never
	}
	content := withTagged(info, c.meta)
	object, _ := json.Marshal(e.authleteClient(c))
	return &authlete.Response{ResultCode: code, ResultMessage: "[" + code + "] " + message, Action: action,
		ResponseContent: string(content), Client: object}
}

// withTagged is info as JSON, with the language-tagged members of m
// ("client_name#ja") beside the others, as Authlete answers them.
func withTagged(info clientInformation, m *metadata) []byte {
	content, _ := json.Marshal(info)
	if len(m.Tagged) == 0 {
		return content
	}
	var members map[string]json.RawMessage
	json.Unmarshal(content, &members)
	for _, t := range m.Tagged {
		members[t.name], _ = json.Marshal(t.value)
	}
	content, _ = json.Marshal(members)
	return content
}

func (e *Emulator) badToken(code string) *authlete.Response {
	action := authlete.ActionUnauthorized
	if e.opts.BadRequestOnClientConfig {
		action = authlete.ActionBadRequest
	}
	msg := "[" + code + "] The registration access token is invalid or the client does not exist."
	return &authlete.Response{ResultCode: code, ResultMessage: msg, Action: action,
		ResponseContent: errorContent("invalid_token", msg, code)}
}

func badMetadata(metadataCode, redirectCode string, err *metadataError) *authlete.Response {
	code := metadataCode
	if err.code == "invalid_redirect_uri" && redirectCode != "" {
		code = redirectCode
	}
	msg := "[" + code + "] " + err.description
	return &authlete.Response{ResultCode: code, ResultMessage: msg, Action: authlete.ActionBadRequest,
		ResponseContent: errorContent(err.code, msg, code)}
}

// errorContent is an RFC 7591 §3.2.2 error body shaped as Authlete's.
func errorContent(errorCode, description, resultCode string) string {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}{errorCode, description, "https://docs.authlete.com/#" + resultCode})
	return string(body)
}

// authleteClient is the "client" object of Authlete's answer, in part.
type authleteClient struct {
	Number                int              `json:"number"`
	ClientID              int64            `json:"clientId"`
	ClientName            string           `json:"clientName,omitempty"`
	ClientNames           []taggedValue    `json:"clientNames,omitempty"`
	LogoURIs              []taggedValue    `json:"logoUris,omitempty"`
	ClientURIs            []taggedValue    `json:"clientUris,omitempty"`
	PolicyURIs            []taggedValue    `json:"policyUris,omitempty"`
	TOSURIs               []taggedValue    `json:"tosUris,omitempty"`
	ClientSecret          string           `json:"clientSecret,omitempty"`
	ClientType            string           `json:"clientType"`
	ApplicationType       string           `json:"applicationType,omitempty"`
	RedirectURIs          []string         `json:"redirectUris,omitempty"`
	GrantTypes            []string         `json:"grantTypes"`
	ResponseTypes         []string         `json:"responseTypes"`
	TokenAuthMethod       string           `json:"tokenAuthMethod"`
	Extension             *clientExtension `json:"extension,omitempty"`
	DynamicallyRegistered bool             `json:"dynamicallyRegistered"`
	ClientSource          string           `json:"clientSource"`
	Locked                bool             `json:"locked"`
	CreatedAt             int64            `json:"createdAt"`
	ModifiedAt            int64            `json:"modifiedAt"`
}

// clientExtension is the "extension" of Authlete's Client object, in part.
type clientExtension struct {
	RequestableScopesEnabled bool     `json:"requestableScopesEnabled"`
	RequestableScopes        []string `json:"requestableScopes,omitempty"`
}

func (e *Emulator) authleteClient(c *client) authleteClient {
	id, _ := strconv.ParseInt(c.id, 10, 64)
	out := authleteClient{
		Number: c.number, ClientID: id, ClientName: c.meta.ClientName, ClientSecret: c.secret,
		ClientType: "CONFIDENTIAL", ApplicationType: strings.ToUpper(c.meta.ApplicationType),
		RedirectURIs: c.meta.RedirectURIs, TokenAuthMethod: strings.ToUpper(c.meta.TokenEndpointAuthMethod),
		DynamicallyRegistered: c.source != "STATIC_REGISTRATION", ClientSource: c.source, Locked: c.locked, CreatedAt: c.issuedAt.UnixMilli(), ModifiedAt: c.modified.UnixMilli(),
		GrantTypes: []string{}, ResponseTypes: []string{},
		ClientNames: c.meta.taggedValues("client_name"), LogoURIs: c.meta.taggedValues("logo_uri"),
		ClientURIs: c.meta.taggedValues("client_uri"), PolicyURIs: c.meta.taggedValues("policy_uri"),
		TOSURIs: c.meta.taggedValues("tos_uri"),
	}
	if c.secret == "" {
		out.ClientType = "PUBLIC"
	}
	if e.opts.DCRScopeUsedAsRequestable && c.source == "DYNAMIC_REGISTRATION" {
		// The registered scope is what the client may request.
		out.Extension = &clientExtension{true, strings.Fields(c.meta.Scope)}
	}
	for _, g := range c.meta.GrantTypes {
		if i := strings.LastIndexAny(g, ":"); i >= 0 {
			g = g[i+1:] // urn:ietf:params:oauth:grant-type:jwt-bearer → JWT_BEARER
		}
		out.GrantTypes = append(out.GrantTypes, strings.ToUpper(strings.ReplaceAll(g, "-", "_")))
	}
	order := []string{"none", "code", "id_token", "token"}
	for _, rt := range c.meta.ResponseTypes {
		parts := strings.Fields(rt)
		slices.SortFunc(parts, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
		out.ResponseTypes = append(out.ResponseTypes, strings.ToUpper(strings.Join(parts, "_")))
	}
	return out
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomClientID returns a 14-digit number, like Authlete's client IDs.
func randomClientID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e13))
	return strconv.FormatInt(n.Int64()+1e13, 10)
}
