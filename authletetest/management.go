package authletetest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// managementRoutes are the calls beyond DCR that the emulator answers, as
// Authlete's API v3 (under /api/{serviceId}) and v2 (under /api): client
// management, tokens and the service's settings.
var managementRoutes = []struct {
	method, path string
	param        bool // the path ends with /{clientId}
}{
	{http.MethodGet, "/client/get/list", false},
	{http.MethodGet, "/client/get", true},
	{http.MethodDelete, "/client/delete", true},
	{http.MethodPost, "/client/lock_flag/update", true},
	{http.MethodPost, "/auth/token/create", false},
	{http.MethodGet, "/auth/token/get/list", false},
	{http.MethodGet, "/service/get", false},
}

// token is an access token the emulator issued; only its hash is kept.
type token struct {
	accessHash, refreshHash string // refreshHash is "" without a refresh token
	subject                 string
	grantType               string
	created                 time.Time
	accessExpires           time.Time
	refreshExpires          time.Time
	scopes                  []string
}

// tokenOverhead is what a token takes beyond its subject and scopes, as
// Options.MaxTokenBytes counts it: its hashes, times and slice headers.
const tokenOverhead = 256

// size is what t counts against Options.MaxTokenBytes.
func (t *token) size() int {
	n := tokenOverhead + len(t.subject) + len(t.grantType)
	for _, s := range t.scopes {
		n += len(s) + 16
	}
	return n
}

// dropTokens forgets the tokens of client id. e.mu is held.
func (e *Emulator) dropTokens(id string) {
	for _, t := range e.tokens[id] {
		e.tokenBytes -= t.size()
	}
	e.ntokens -= len(e.tokens[id])
	delete(e.tokens, id)
}

// Token durations of /auth/token/create when the request names none.
const (
	defaultAccessTokenDuration  = time.Hour
	defaultRefreshTokenDuration = 24 * time.Hour
)

// manage answers a call of managementRoutes.
func (e *Emulator) manage(w http.ResponseWriter, r *http.Request, op, arg string) {
	switch op {
	case "client/get/list":
		start, end, ok := pageOf(r)
		if !ok {
			refuse(w, http.StatusBadRequest, "A001201", "start and end must be numbers, 0 <= start <= end.", "")
			return
		}
		e.mu.Lock()
		clients := make([]*client, 0, len(e.clients))
		for _, c := range e.clients {
			clients = append(clients, c)
		}
		slices.SortFunc(clients, func(a, b *client) int { return a.number - b.number })
		list := struct {
			Start      int              `json:"start"`
			End        int              `json:"end"`
			TotalCount int              `json:"totalCount"`
			Clients    []authleteClient `json:"clients"`
		}{Start: start, End: end, TotalCount: len(clients), Clients: []authleteClient{}}
		for _, c := range clients[min(start, len(clients)):min(end, len(clients))] {
			list.Clients = append(list.Clients, e.authleteClient(c))
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, list)
	case "client/get":
		e.mu.Lock()
		c := e.clients[arg]
		var out authleteClient
		if c != nil {
			out = e.authleteClient(c)
		}
		e.mu.Unlock()
		if c == nil {
			refuse(w, http.StatusNotFound, "A001310", "The client does not exist.", "")
			return
		}
		writeJSON(w, http.StatusOK, out)
	case "client/delete":
		e.mu.Lock()
		_, ok := e.clients[arg]
		delete(e.clients, arg)
		e.dropTokens(arg)
		e.mu.Unlock()
		if !ok {
			refuse(w, http.StatusNotFound, "A001310", "The client does not exist.", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "client/lock_flag/update":
		var req struct {
			ClientLocked *bool `json:"clientLocked"`
		}
		form, isForm, err := readBody(w, r, &req)
		if isForm {
			if b, perr := strconv.ParseBool(form.Get("clientLocked")); perr == nil {
				req.ClientLocked = &b
			}
		}
		if err != nil || req.ClientLocked == nil {
			refuse(w, http.StatusBadRequest, "A001201", "The request body must be {\"clientLocked\": true|false}, as JSON or a form.", "")
			return
		}
		e.mu.Lock()
		c := e.clients[arg]
		if c != nil && c.locked != *req.ClientLocked {
			c.locked, c.modified = *req.ClientLocked, e.opts.Now()
		}
		e.mu.Unlock()
		if c == nil {
			refuse(w, http.StatusNotFound, "A001310", "The client does not exist.", "")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"resultCode": "A145001", "resultMessage": "[A145001] The lock flag was updated."})
	case "auth/token/create":
		e.createToken(w, r)
	case "auth/token/get/list":
		start, end, ok := pageOf(r)
		if !ok {
			refuse(w, http.StatusBadRequest, "A001201", "start and end must be numbers, 0 <= start <= end.", "")
			return
		}
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, e.listTokens(q.Get("clientIdentifier"), q.Get("subject"), start, end))
	case "service/get":
		writeJSON(w, http.StatusOK, e.service())
	}
}

// listTokens is the answer of auth/token/get/list: the tokens of the
// client clientID, or of every client when it is "", of subject when it is
// not "", in the order of the clients and of their creation.
func (e *Emulator) listTokens(clientID, subject string, start, end int) any {
	type accessToken struct {
		AccessTokenHash       string   `json:"accessTokenHash"`
		AccessTokenExpiresAt  int64    `json:"accessTokenExpiresAt"`
		RefreshTokenHash      string   `json:"refreshTokenHash,omitempty"`
		RefreshTokenExpiresAt int64    `json:"refreshTokenExpiresAt"`
		CreatedAt             int64    `json:"createdAt"`
		LastRefreshedAt       int64    `json:"lastRefreshedAt"`
		ClientID              int64    `json:"clientId"`
		Subject               string   `json:"subject,omitempty"`
		GrantType             string   `json:"grantType"`
		Scopes                []string `json:"scopes,omitempty"`
	}
	list := struct {
		Start        int           `json:"start"`
		End          int           `json:"end"`
		TotalCount   int           `json:"totalCount"`
		AccessTokens []accessToken `json:"accessTokens"`
	}{Start: start, End: end, AccessTokens: []accessToken{}}
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []*client
	if clientID != "" {
		if c := e.clients[clientID]; c != nil {
			ids = append(ids, c)
		}
	} else {
		for _, c := range e.clients {
			ids = append(ids, c)
		}
		slices.SortFunc(ids, func(a, b *client) int { return a.number - b.number })
	}
	var all []accessToken
	for _, c := range ids {
		n, _ := strconv.ParseInt(c.id, 10, 64)
		for _, t := range e.tokens[c.id] {
			if subject != "" && t.subject != subject {
				continue
			}
			all = append(all, accessToken{
				AccessTokenHash: t.accessHash, AccessTokenExpiresAt: t.accessExpires.UnixMilli(),
				RefreshTokenHash: t.refreshHash, RefreshTokenExpiresAt: unixMilli(t.refreshExpires),
				CreatedAt: t.created.UnixMilli(), ClientID: n, Subject: t.subject,
				GrantType: t.grantType, Scopes: t.scopes,
			})
		}
	}
	list.TotalCount = len(all)
	list.AccessTokens = append(list.AccessTokens, all[min(start, len(all)):min(end, len(all))]...)
	return list
}

// unixMilli is t in milliseconds since the Unix epoch, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// grantTypes are the grantType values of auth/token/create.
var grantTypes = []string{"AUTHORIZATION_CODE", "CLIENT_CREDENTIALS", "PASSWORD", "REFRESH_TOKEN", "IMPLICIT",
	"CIBA", "DEVICE_CODE", "TOKEN_EXCHANGE", "JWT_BEARER", "PRE_AUTHORIZED_CODE"}

// createToken answers /auth/token/create for a client of the emulator: an
// access token and, but for CLIENT_CREDENTIALS, a refresh token, with the
// durations asked (in seconds), or an hour and a day. The body is JSON or
// a form, as the specification allows.
func (e *Emulator) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType            string   `json:"grantType"`
		ClientID             int64    `json:"clientId"`
		Subject              string   `json:"subject"`
		Scopes               []string `json:"scopes"`
		AccessTokenDuration  int64    `json:"accessTokenDuration"`
		RefreshTokenDuration int64    `json:"refreshTokenDuration"`
	}
	form, isForm, err := readBody(w, r, &req)
	if isForm {
		req.GrantType, req.Subject = form.Get("grantType"), form.Get("subject")
		req.ClientID, _ = strconv.ParseInt(form.Get("clientId"), 10, 64)
		for _, v := range form["scopes"] {
			req.Scopes = append(req.Scopes, strings.Fields(v)...)
		}
		req.AccessTokenDuration, _ = strconv.ParseInt(form.Get("accessTokenDuration"), 10, 64)
		req.RefreshTokenDuration, _ = strconv.ParseInt(form.Get("refreshTokenDuration"), 10, 64)
	}
	if err != nil || req.ClientID == 0 || req.GrantType == "" {
		refuse(w, http.StatusBadRequest, "A001201", "grantType and clientId are required.", "")
		return
	}
	answer := func(code, message, action string) {
		writeJSON(w, http.StatusOK, map[string]any{"resultCode": code, "resultMessage": "[" + code + "] " + message, "action": action})
	}
	switch {
	case !slices.Contains(grantTypes, req.GrantType):
		answer("A109204", "The grant type is not supported.", "BAD_REQUEST")
		return
	case req.Subject == "" && req.GrantType != "CLIENT_CREDENTIALS":
		answer("A109205", "A subject is required unless the grant type is CLIENT_CREDENTIALS.", "BAD_REQUEST")
		return
	}
	id := strconv.FormatInt(req.ClientID, 10)
	now := e.opts.Now()
	accessDuration, refreshDuration := defaultAccessTokenDuration, defaultRefreshTokenDuration
	if req.AccessTokenDuration > 0 {
		accessDuration = time.Duration(req.AccessTokenDuration) * time.Second
	}
	if req.RefreshTokenDuration > 0 {
		refreshDuration = time.Duration(req.RefreshTokenDuration) * time.Second
	}
	access := randomString(32)
	t := &token{accessHash: hash(access), subject: req.Subject, grantType: req.GrantType, created: now,
		accessExpires: now.Add(accessDuration), scopes: req.Scopes}
	refresh := ""
	if req.GrantType != "CLIENT_CREDENTIALS" { // RFC 6749 §4.4.3: no refresh token
		refresh = randomString(32)
		t.refreshHash, t.refreshExpires = hash(refresh), now.Add(refreshDuration)
	}
	e.mu.Lock()
	c := e.clients[id]
	full := e.opts.MaxTokens > 0 && e.ntokens >= e.opts.MaxTokens ||
		e.opts.MaxTokenBytes > 0 && e.tokenBytes+t.size() > e.opts.MaxTokenBytes
	if c != nil && !c.locked && !full {
		e.tokens[id] = append(e.tokens[id], t)
		e.ntokens++
		e.tokenBytes += t.size()
	}
	e.mu.Unlock()
	switch {
	case c == nil:
		answer("A109202", "No such client.", "BAD_REQUEST")
	case c.locked:
		answer("A109203", "The client is locked.", "BAD_REQUEST")
	case full:
		answer("A109301", "The service holds as many tokens as it may.", "INTERNAL_SERVER_ERROR")
	default:
		out := map[string]any{
			"resultCode": "A109001", "resultMessage": "[A109001] An access token was created successfully.", "action": "OK",
			"accessToken": access, "clientId": req.ClientID, "grantType": req.GrantType, "tokenType": "Bearer",
			"expiresAt": t.accessExpires.UnixMilli(), "expiresIn": int64(accessDuration / time.Second),
		}
		if refresh != "" {
			out["refreshToken"] = refresh
		}
		if req.Subject != "" {
			out["subject"] = req.Subject
		}
		if len(req.Scopes) > 0 {
			out["scopes"] = req.Scopes // an array, or absent: never null
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// readBody decodes r's body into v when it is JSON; a form (the
// specification allows application/x-www-form-urlencoded for
// auth/token/create and client/lock_flag/update) is returned as such.
func readBody(w http.ResponseWriter, r *http.Request, v any) (form url.Values, isForm bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		err := r.ParseForm()
		return r.PostForm, true, err
	}
	return nil, false, json.NewDecoder(r.Body).Decode(v)
}

// service is the Service object of /service/get, in part.
func (e *Emulator) service() map[string]any {
	id, _ := strconv.ParseInt(e.opts.ServiceID, 10, 64)
	svc := map[string]any{
		"apiKey":                              id,
		"serviceName":                         "Authlete emulator",
		"dynamicRegistrationSupported":        !e.opts.NoDynamicRegistration,
		"registrationEndpoint":                e.opts.ManagementEndpoint,
		"registrationManagementEndpoint":      e.opts.ManagementEndpoint,
		"unauthorizedOnClientConfigSupported": !e.opts.BadRequestOnClientConfig,
		"loopbackRedirectionUriVariable":      !e.opts.FixedLoopbackPort,
		"dcrScopeUsedAsRequestable":           e.opts.DCRScopeUsedAsRequestable,
		"dcrDuplicateSoftwareIdBlocked":       e.opts.DuplicateSoftwareIDBlocked,
		"clientIdMetadataDocumentSupported":   e.opts.CIMD.Supported,
		"httpAliasProhibited":                 e.opts.CIMD.HTTPAliasProhibited,
		"cimdHttpPermitted":                   e.opts.CIMD.HTTPPermitted,
		"cimdQueryPermitted":                  e.opts.CIMD.QueryPermitted,
		"cimdAllowlistEnabled":                e.opts.CIMD.AllowlistEnabled,
		"cimdMetadataPolicyEnabled":           e.opts.CIMD.MetadataPolicyEnabled,
		"cimdMetadataPolicy":                  e.opts.CIMD.MetadataPolicy,
	}
	if e.opts.CIMD.Allowlist != nil {
		svc["cimdAllowlist"] = e.opts.CIMD.Allowlist // an array, or absent: never null
	}
	return svc
}

// pageOf reads the start and end query parameters (defaults 0 and 5).
func pageOf(r *http.Request) (start, end int, ok bool) {
	q := r.URL.Query()
	start, end = 0, 5
	for name, v := range map[string]*int{"start": &start, "end": &end} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return 0, 0, false
			}
			*v = n
		}
	}
	return start, end, start <= end
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
