package authletetest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

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

// listTokens answers auth/token/get/list.
func (e *Emulator) listTokens(w http.ResponseWriter, r *http.Request, _ string) {
	start, end, ok := pageOf(r)
	if !ok {
		badPage(w)
		return
	}
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, e.tokenPage(q.Get("clientIdentifier"), q.Get("subject"), start, end))
}

// tokenPage is the answer of auth/token/get/list: the tokens of the
// client clientID, or of every client when it is "", of subject when it is
// not "", in the order of the clients and of their creation.
func (e *Emulator) tokenPage(clientID, subject string, start, end int) any {
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
		ids = e.sortedClients()
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

// tokenRequest is the body of auth/token/create, in part.
type tokenRequest struct {
	GrantType            string   `json:"grantType"`
	ClientID             int64    `json:"clientId"`
	Subject              string   `json:"subject"`
	Scopes               []string `json:"scopes"`
	AccessTokenDuration  int64    `json:"accessTokenDuration"`
	RefreshTokenDuration int64    `json:"refreshTokenDuration"`
}

// readTokenRequest reads the body of auth/token/create: JSON or a form,
// as the specification allows.
func readTokenRequest(w http.ResponseWriter, r *http.Request) (*tokenRequest, error) {
	req := new(tokenRequest)
	form, isForm, err := readBody(w, r, req)
	if isForm {
		req.GrantType, req.Subject = form.Get("grantType"), form.Get("subject")
		req.ClientID, _ = strconv.ParseInt(form.Get("clientId"), 10, 64)
		for _, v := range form["scopes"] {
			req.Scopes = append(req.Scopes, strings.Fields(v)...)
		}
		req.AccessTokenDuration, _ = strconv.ParseInt(form.Get("accessTokenDuration"), 10, 64)
		req.RefreshTokenDuration, _ = strconv.ParseInt(form.Get("refreshTokenDuration"), 10, 64)
	}
	return req, err
}

// tokenAnswer answers auth/token/create with an action and no token.
func tokenAnswer(w http.ResponseWriter, code, message, action string) {
	writeJSON(w, http.StatusOK, map[string]any{"resultCode": code, "resultMessage": "[" + code + "] " + message, "action": action})
}

// createToken answers /auth/token/create for a client of the emulator: an
// access token and, but for CLIENT_CREDENTIALS, a refresh token, with the
// durations asked (in seconds), or an hour and a day.
func (e *Emulator) createToken(w http.ResponseWriter, r *http.Request, _ string) {
	req, err := readTokenRequest(w, r)
	switch {
	case err != nil || req.ClientID == 0 || req.GrantType == "":
		refuse(w, http.StatusBadRequest, "A001201", "grantType and clientId are required.", "")
		return
	case !slices.Contains(grantTypes, req.GrantType):
		tokenAnswer(w, "A109204", "The grant type is not supported.", "BAD_REQUEST")
		return
	case req.Subject == "" && req.GrantType != "CLIENT_CREDENTIALS":
		tokenAnswer(w, "A109205", "A subject is required unless the grant type is CLIENT_CREDENTIALS.", "BAD_REQUEST")
		return
	}
	id := strconv.FormatInt(req.ClientID, 10)
	t, access, refresh := newToken(req, e.opts.Now())
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
		tokenAnswer(w, "A109202", "No such client.", "BAD_REQUEST")
	case c.locked:
		tokenAnswer(w, "A109203", "The client is locked.", "BAD_REQUEST")
	case full:
		tokenAnswer(w, "A109301", "The service holds as many tokens as it may.", "INTERNAL_SERVER_ERROR")
	default:
		writeJSON(w, http.StatusOK, createdToken(req, t, access, refresh))
	}
}

// durations are the lifetimes of the access and refresh tokens that req
// asks for, or an hour and a day.
func (req *tokenRequest) durations() (access, refresh time.Duration) {
	access, refresh = defaultAccessTokenDuration, defaultRefreshTokenDuration
	if req.AccessTokenDuration > 0 {
		access = time.Duration(req.AccessTokenDuration) * time.Second
	}
	if req.RefreshTokenDuration > 0 {
		refresh = time.Duration(req.RefreshTokenDuration) * time.Second
	}
	return access, refresh
}

// newToken is the token that req asks for at now, and its access and
// refresh tokens ("" for none), of which t keeps only the hashes.
func newToken(req *tokenRequest, now time.Time) (t *token, access, refresh string) {
	accessDuration, refreshDuration := req.durations()
	access = randomString(32)
	t = &token{accessHash: hash(access), subject: req.Subject, grantType: req.GrantType, created: now,
		accessExpires: now.Add(accessDuration), scopes: req.Scopes}
	if req.GrantType != "CLIENT_CREDENTIALS" { // RFC 6749 §4.4.3: no refresh token
		refresh = randomString(32)
		t.refreshHash, t.refreshExpires = hash(refresh), now.Add(refreshDuration)
	}
	return t, access, refresh
}

// createdToken is the answer of auth/token/create that issues t.
func createdToken(req *tokenRequest, t *token, access, refresh string) map[string]any {
	accessDuration, _ := req.durations()
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
	return out
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
