package authletetest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
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
	accessHash, refreshHash string
	subject                 string
	created                 time.Time
	accessExpires           time.Time
	refreshExpires          time.Time
	scopes                  []string
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
		delete(e.tokens, arg)
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
		if json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req) != nil || req.ClientLocked == nil {
			refuse(w, http.StatusBadRequest, "A001201", "The request body must be {\"clientLocked\": true|false}.", "")
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
		id := r.URL.Query().Get("clientIdentifier")
		if !ok || id == "" {
			refuse(w, http.StatusBadRequest, "A001201", "clientIdentifier is required; start and end must be numbers, 0 <= start <= end.", "")
			return
		}
		type accessToken struct {
			AccessTokenHash       string   `json:"accessTokenHash"`
			AccessTokenExpiresAt  int64    `json:"accessTokenExpiresAt"`
			RefreshTokenHash      string   `json:"refreshTokenHash"`
			RefreshTokenExpiresAt int64    `json:"refreshTokenExpiresAt"`
			CreatedAt             int64    `json:"createdAt"`
			LastRefreshedAt       int64    `json:"lastRefreshedAt"`
			ClientID              int64    `json:"clientId"`
			Subject               string   `json:"subject"`
			GrantType             string   `json:"grantType"`
			Scopes                []string `json:"scopes"`
		}
		list := struct {
			Start        int           `json:"start"`
			End          int           `json:"end"`
			TotalCount   int           `json:"totalCount"`
			AccessTokens []accessToken `json:"accessTokens"`
		}{Start: start, End: end, AccessTokens: []accessToken{}}
		clientID, _ := strconv.ParseInt(id, 10, 64)
		e.mu.Lock()
		tokens := e.tokens[id]
		list.TotalCount = len(tokens)
		for _, t := range tokens[min(start, len(tokens)):min(end, len(tokens))] {
			list.AccessTokens = append(list.AccessTokens, accessToken{
				AccessTokenHash: t.accessHash, AccessTokenExpiresAt: t.accessExpires.UnixMilli(),
				RefreshTokenHash: t.refreshHash, RefreshTokenExpiresAt: t.refreshExpires.UnixMilli(),
				CreatedAt: t.created.UnixMilli(), ClientID: clientID, Subject: t.subject,
				GrantType: "AUTHORIZATION_CODE", Scopes: t.scopes,
			})
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, list)
	case "service/get":
		writeJSON(w, http.StatusOK, e.service())
	}
}

// createToken answers /auth/token/create for a client of the emulator: an
// access token and a refresh token with the durations asked (in seconds),
// or an hour and a day.
func (e *Emulator) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType            string   `json:"grantType"`
		ClientID             int64    `json:"clientId"`
		Subject              string   `json:"subject"`
		Scopes               []string `json:"scopes"`
		AccessTokenDuration  int64    `json:"accessTokenDuration"`
		RefreshTokenDuration int64    `json:"refreshTokenDuration"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req) != nil || req.ClientID == 0 || req.GrantType == "" {
		refuse(w, http.StatusBadRequest, "A001201", "grantType and clientId are required.", "")
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
	access, refresh := randomString(32), randomString(32)
	t := &token{accessHash: hash(access), refreshHash: hash(refresh), subject: req.Subject, created: now,
		accessExpires: now.Add(accessDuration), refreshExpires: now.Add(refreshDuration), scopes: req.Scopes}
	e.mu.Lock()
	c := e.clients[id]
	if c != nil && !c.locked {
		e.tokens[id] = append(e.tokens[id], t)
	}
	e.mu.Unlock()
	switch {
	case c == nil:
		writeJSON(w, http.StatusOK, map[string]any{"resultCode": "A109202", "resultMessage": "[A109202] No such client.", "action": "BAD_REQUEST"})
	case c.locked:
		writeJSON(w, http.StatusOK, map[string]any{"resultCode": "A109203", "resultMessage": "[A109203] The client is locked.", "action": "BAD_REQUEST"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"resultCode": "A109001", "resultMessage": "[A109001] An access token was created successfully.", "action": "OK",
			"accessToken": access, "refreshToken": refresh, "clientId": req.ClientID, "subject": req.Subject,
			"grantType": req.GrantType, "scopes": req.Scopes, "tokenType": "Bearer",
			"expiresAt": t.accessExpires.UnixMilli(), "expiresIn": int64(accessDuration / time.Second),
		})
	}
}

// service is the Service object of /service/get, in part.
func (e *Emulator) service() map[string]any {
	id, _ := strconv.ParseInt(e.opts.ServiceID, 10, 64)
	return map[string]any{
		"apiKey":                              id,
		"serviceName":                         "Authlete emulator",
		"dynamicRegistrationSupported":        !e.opts.NoDynamicRegistration,
		"registrationEndpoint":                e.opts.ManagementEndpoint,
		"registrationManagementEndpoint":      e.opts.ManagementEndpoint,
		"unauthorizedOnClientConfigSupported": !e.opts.BadRequestOnClientConfig,
		"loopbackRedirectionUriVariable":      !e.opts.FixedLoopbackPort,
		"dcrScopeUsedAsRequestable":           false,
		"dcrDuplicateSoftwareIdBlocked":       false,
	}
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
