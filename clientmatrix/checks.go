package clientmatrix

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/internal/loopback"
)

// CheckStatus is the result of a check.
type CheckStatus string

const (
	Pass CheckStatus = "pass"
	Fail CheckStatus = "fail"
	// Skip: the check could not run (RFC 7592 not offered, no secret
	// issued, ...); the reason says why.
	Skip CheckStatus = "skip"
)

// CheckResult is the result of one conformance check.
type CheckResult struct {
	Name string `json:"name"`
	// Section is the RFC section that the check asserts.
	Section string      `json:"section"`
	Status  CheckStatus `json:"status"`
	Reason  string      `json:"reason"`
}

// The checks, in the order they are reported.
const (
	checkCreated     = "created"
	checkSecretExp   = "secret-expiry"
	checkScope       = "scope"
	checkFragment    = "fragment"
	checkBadBody     = "bad-body"
	checkContentType = "content-type"
	checkRead        = "read"
	checkWrongToken  = "wrong-token"
	checkUpdate      = "update"
	checkDelete      = "delete"
	checkNoStore     = "no-store"
)

var checkNames = []string{checkCreated, checkSecretExp, checkScope, checkFragment, checkBadBody, checkContentType,
	checkRead, checkWrongToken, checkUpdate, checkDelete, checkNoStore}

var checkSections = map[string]string{
	checkCreated:     "RFC 7591 §3.2.1",
	checkSecretExp:   "RFC 7591 §3.2.1",
	checkScope:       "RFC 7591 §2, §3.2.1",
	checkFragment:    "RFC 7591 §2, §3.2.2",
	checkBadBody:     "RFC 7591 §3.2.2",
	checkContentType: "RFC 7591 §3, §3.2.2",
	checkRead:        "RFC 7592 §2.1",
	checkWrongToken:  "RFC 7592 §2.1-2.3, RFC 6750 §3",
	checkUpdate:      "RFC 7592 §2.2",
	checkDelete:      "RFC 7592 §2.3",
	checkNoStore:     "RFC 7591 §3.2.1, §3.2.2; RFC 7592 §3",
}

// iatHint is what to do about a 401 at the registration endpoint.
const iatHint = "the endpoint requires an initial access token (RFC 7591 §3): give it with -initial-access-token (Options.InitialAccessToken)"

// checker runs the checks and collects their results.
type checker struct {
	*prober
	sel    selection
	report *Report
	// probeFrom says whose metadata the probe registration copies.
	probeFrom string
	results   map[string]CheckResult
}

func (c *checker) set(name string, status CheckStatus, format string, args ...any) {
	c.results[name] = CheckResult{Name: name, Section: checkSections[name], Status: status, Reason: fmt.Sprintf(format, args...)}
}

// cleanup deletes a registration made by a check, if a is one.
func (c *checker) cleanup(ctx context.Context, a *answer) {
	if a == nil || a.status/100 != 2 {
		return
	}
	if left := c.remove(ctx, registrationOf(a)); left != nil {
		c.report.Leftovers = append(c.report.Leftovers, *left)
	}
}

// runChecks runs the selected checks with probe, the metadata of the
// client from (of genericProbe when from is "").
func (p *prober) runChecks(ctx context.Context, probe map[string]any, from string, sel selection, report *Report) []CheckResult {
	c := &checker{prober: p, sel: sel, report: report, results: map[string]CheckResult{},
		probeFrom: "a public client on https://client.example.org/callback"}
	if from != "" {
		c.probeFrom = "a copy of " + from + "'s"
	}
	want := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return sel.want(n) })
	}
	probe = withName(probe, "dcr-doctor probe")
	var reg *answer
	if want(checkCreated, checkRead, checkWrongToken, checkUpdate, checkDelete, checkNoStore, checkScope, checkSecretExp, checkFragment) {
		var err error
		if reg, err = p.register(ctx, "", probe, nil); err != nil {
			c.set(checkCreated, Fail, "the probe registration: %v", err)
			reg = nil
		}
	}
	if want(checkSecretExp) {
		c.secretExpiry(ctx, probe)
	}
	if want(checkFragment) {
		if reg != nil && reg.status == http.StatusUnauthorized {
			c.set(checkFragment, Skip, "the probe registration: %d %s; %s", reg.status, reg.errorText(), iatHint)
		} else if reg != nil && reg.status/100 != 2 {
			c.set(checkFragment, Skip, "the probe, %s, is refused without a fragment too: %d %s", c.probeFrom, reg.status, reg.errorText())
		} else {
			c.fragment(ctx, probe)
		}
	}
	if want(checkBadBody) {
		c.badBody(ctx)
	}
	if want(checkContentType) {
		c.contentType(ctx, probe)
	}
	if reg != nil {
		c.management(ctx, probe, reg)
	}
	if _, done := c.results[checkCreated]; !done {
		c.created(reg)
	}
	c.scope()
	c.noStore()
	var out []CheckResult
	for _, name := range checkNames {
		if r, ok := c.results[name]; ok && sel.want(name) {
			out = append(out, r)
		}
	}
	return out
}

func withName(m map[string]any, name string) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out["client_name"] = name
	return out
}

// accepted are the registrations answered 2xx.
func (c *checker) accepted() []sentAnswer {
	var out []sentAnswer
	for _, a := range c.registrations {
		if a.status/100 == 2 {
			out = append(out, a)
		}
	}
	return out
}

// created: every registration the server accepted was a 201 with a JSON
// object holding a client_id (RFC 7591 §3.2.1), the probe's among them.
func (c *checker) created(probe *answer) {
	for _, a := range c.registrations {
		if a.status/100 != 2 {
			continue
		}
		switch {
		case a.status != http.StatusCreated:
			c.set(checkCreated, Fail, "a registration was answered %d, not 201 (oauth4webapi and openid-client refuse it)", a.status)
			return
		case !a.isJSON():
			c.set(checkCreated, Fail, "a registration's 201 is not a JSON object with Content-Type application/json (Content-Type %q)", a.header.Get("Content-Type"))
			return
		case a.str("client_id") == "":
			c.set(checkCreated, Fail, "a registration's 201 has no client_id")
			return
		}
	}
	if probe != nil && probe.status/100 != 2 {
		if probe.status/100 == 4 && len(c.accepted()) > 0 {
			c.set(checkCreated, Pass, "201, application/json, client_id (the probe: %d %s)", probe.status, probe.errorText())
			return
		}
		if probe.status == http.StatusUnauthorized {
			c.set(checkCreated, Skip, "the probe registration: %d %s; %s", probe.status, probe.errorText(), iatHint)
			return
		}
		if probe.status/100 == 4 {
			c.set(checkCreated, Skip, "the server refused the probe registration, %s: %d %s; run the check with a client it accepts", c.probeFrom, probe.status, probe.errorText())
			return
		}
		c.set(checkCreated, Fail, "the probe registration was answered %d %s", probe.status, probe.errorText())
		return
	}
	c.set(checkCreated, Pass, "201, application/json, client_id")
}

// secretExpiry: every answer that issues a client_secret has
// client_secret_expires_at (RFC 7591 §3.2.1). A confidential probe
// provokes a secret.
func (c *checker) secretExpiry(ctx context.Context, probe map[string]any) {
	m := withName(probe, "dcr-doctor probe (confidential)")
	m["token_endpoint_auth_method"] = "client_secret_basic"
	a, err := c.register(ctx, "", m, nil)
	if err == nil {
		c.cleanup(ctx, a)
	}
	issued := 0
	for _, a := range c.answers {
		if a.status/100 != 2 || a.str("client_secret") == "" {
			continue
		}
		issued++
		if _, ok := a.object["client_secret_expires_at"].(float64); !ok {
			c.set(checkSecretExp, Fail, "%s issued a client_secret without client_secret_expires_at (oauth4webapi and openid-client refuse it)", a)
			return
		}
	}
	if issued == 0 {
		c.set(checkSecretExp, Skip, "no client_secret was issued, not even for token_endpoint_auth_method client_secret_basic")
		return
	}
	c.set(checkSecretExp, Pass, "%d answer(s) with a client_secret, each with client_secret_expires_at", issued)
}

// scope: a registered scope holds no value the client did not request
// (RFC 7591 §2: the server may narrow it, or set one when none is asked).
func (c *checker) scope() {
	asked := 0
	for _, a := range c.registrations {
		// An empty scope asks none (the MCP TypeScript SDK sends "").
		sent, _ := a.sent["scope"].(string)
		if strings.TrimSpace(sent) == "" || a.status/100 != 2 || a.object == nil {
			continue
		}
		asked++
		got, _ := a.object["scope"].(string)
		want := strings.Fields(sent)
		for _, s := range strings.Fields(got) {
			if !slices.Contains(want, s) {
				c.set(checkScope, Fail, "%q was requested, %q registered: %q is beyond the request", sent, got, s)
				return
			}
		}
	}
	if asked == 0 {
		c.set(checkScope, Skip, "no accepted registration requested a scope")
		return
	}
	c.set(checkScope, Pass, "%d registration(s) with a scope, none widened", asked)
}

// fragment: a redirect URI with a fragment is refused with 400
// invalid_redirect_uri or invalid_client_metadata (RFC 6749 §3.1.2, RFC
// 7591 §3.2.2).
func (c *checker) fragment(ctx context.Context, probe map[string]any) {
	m := withName(probe, "dcr-doctor probe (fragment)")
	uris, _ := stringList(m["redirect_uris"])
	uri := "https://client.example.org/callback"
	if len(uris) > 0 {
		uri = uris[0]
	}
	m["redirect_uris"] = []any{uri + "#fragment"}
	a, err := c.register(ctx, "", m, nil)
	if err != nil {
		c.set(checkFragment, Fail, "%v", err)
		return
	}
	defer c.cleanup(ctx, a)
	code := dcr.ErrorCode(a.str("error"))
	if a.status != http.StatusBadRequest || !a.isJSON() || (code != dcr.InvalidRedirectURI && code != dcr.InvalidClientMetadata) {
		c.set(checkFragment, Fail, "%s#fragment was answered %d %s, not 400 invalid_redirect_uri", uri, a.status, a.errorText())
		return
	}
	c.set(checkFragment, Pass, "400 %s", code)
}

// isJSONError reports whether a is a JSON error object with the given
// status class.
func isJSONError(a *answer) bool { return a.isJSON() && a.str("error") != "" }

// badBody: a body that is not a JSON object gets 400 with a JSON error
// (RFC 7591 §3.2.2).
func (c *checker) badBody(ctx context.Context) {
	for _, body := range []string{`{"redirect_uris":`, `["https://client.example.org/callback"]`} {
		a := c.post(ctx, checkBadBody, []byte(body), "")
		if a == nil {
			return
		}
		if a.status != http.StatusBadRequest || !isJSONError(a) {
			c.set(checkBadBody, Fail, "the body %s was answered %d with %s, not 400 with a JSON error", body, a.status, describeBody(a))
			return
		}
	}
	c.set(checkBadBody, Pass, "400 with a JSON error for truncated JSON and for an array")
}

// contentType: a registration that is not labelled application/json gets
// a 4xx JSON error (RFC 7591 §3: the request is application/json).
func (c *checker) contentType(ctx context.Context, probe map[string]any) {
	body := []byte(show(withName(probe, "dcr-doctor probe (text/plain)")))
	a := c.post(ctx, checkContentType, body, "text/plain")
	if a == nil {
		return
	}
	if a.status/100 != 4 || !isJSONError(a) {
		c.set(checkContentType, Fail, "a text/plain registration was answered %d with %s, not 400 or 415 with a JSON error", a.status, describeBody(a))
		return
	}
	c.set(checkContentType, Pass, "%d %s", a.status, a.str("error"))
}

// post sends body, of contentType ("": application/json), to the registration
// endpoint for the check name, and deletes what it registered. It returns
// nil, with the check's result set, when there is no answer (Fail) or
// the answer is a 401 (Skip: the endpoint wants an initial access token).
func (c *checker) post(ctx context.Context, name string, body []byte, contentType string) *answer {
	a, err := c.do(ctx, request{method: http.MethodPost, url: c.endpoint.String(), token: c.iat, body: body, contentType: contentType})
	if err != nil {
		c.set(name, Fail, "%v", err)
		return nil
	}
	c.cleanup(ctx, a)
	if a.status == http.StatusUnauthorized {
		c.set(name, Skip, "%d %s; %s", a.status, a.errorText(), iatHint)
		return nil
	}
	return a
}

func describeBody(a *answer) string {
	if isJSONError(a) {
		return "the JSON error " + a.errorText()
	}
	if a.object != nil {
		return "a JSON object without error"
	}
	return fmt.Sprintf("Content-Type %q, not a JSON object", a.header.Get("Content-Type"))
}

// management runs the RFC 7592 checks on the probe's registration, and
// deletes it.
func (c *checker) management(ctx context.Context, probe map[string]any, a *answer) {
	reg := registrationOf(a)
	rfc7592 := []string{checkRead, checkWrongToken, checkUpdate, checkDelete}
	skip := func(format string, args ...any) {
		for _, n := range rfc7592 {
			c.set(n, Skip, format, args...)
		}
	}
	switch {
	case a.status/100 != 2 || reg.clientID == "":
		skip("the probe registration, %s, was not accepted: %d %s", c.probeFrom, a.status, a.errorText())
		c.cleanup(ctx, a) // a 2xx without client_id may have registered one
		return
	case !reg.managed():
		skip("RFC 7592 not offered: no registration_client_uri and registration_access_token")
		c.cleanup(ctx, a)
		return
	case !c.sameOrigin(reg.uri):
		skip("registration_client_uri %s is not on the origin of %s: not followed", reg.uri, c.endpoint)
		c.cleanup(ctx, a)
		return
	}
	deleted := false
	defer func() {
		if !deleted {
			c.cleanup(ctx, a)
		}
	}()
	if c.sel.want(checkRead) {
		c.read(ctx, reg)
	}
	if c.sel.want(checkWrongToken) {
		c.wrongToken(ctx, reg, probe)
	}
	if c.sel.want(checkUpdate) {
		reg = c.update(ctx, reg, probe)
	}
	if c.sel.want(checkDelete) {
		deleted = c.delete(ctx, reg)
	}
}

// read: GET with the registration access token is 200 with the client as
// JSON (RFC 7592 §2.1).
func (c *checker) read(ctx context.Context, reg registration) {
	a, err := c.do(ctx, request{method: http.MethodGet, url: reg.uri, token: reg.token})
	switch {
	case err != nil:
		c.set(checkRead, Fail, "%v", err)
	case a.status != http.StatusOK:
		c.set(checkRead, Fail, "GET with the registration access token: %d %s, not 200", a.status, a.errorText())
	case !a.isJSON():
		c.set(checkRead, Fail, "GET with the registration access token: 200 with %s, not a JSON object", describeBody(a))
	case a.str("client_id") != reg.clientID:
		c.set(checkRead, Fail, "GET answered the client_id %q, not %q", a.str("client_id"), reg.clientID)
	default:
		c.set(checkRead, Pass, "200, application/json, the same client_id")
	}
}

// wrongToken: GET, PUT and DELETE with a wrong token, and without one,
// get 401 with a Bearer challenge, and no client data (RFC 7592 §2.1-2.3,
// RFC 6750 §3).
func (c *checker) wrongToken(ctx context.Context, reg registration, probe map[string]any) {
	wrong := randomToken()
	secrets := []string{reg.token}
	if reg.secret != "" {
		secrets = append(secrets, reg.secret)
	}
	// A wrong token, then none at all (an optional-auth middleware serves
	// a request without Authorization).
	for _, token := range []string{wrong, ""} {
		with := "with a wrong token"
		if token == "" {
			with = "without a token"
		}
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			r := request{method: method, url: reg.uri, token: token}
			if method == http.MethodPut {
				r.body = updateBody(probe, reg)
			}
			a, err := c.do(ctx, r)
			if err != nil {
				c.set(checkWrongToken, Fail, "%v", err)
				return
			}
			if a.status != http.StatusUnauthorized {
				c.set(checkWrongToken, Fail, "%s %s: %d %s, not 401", method, with, a.status, a.errorText())
				return
			}
			if !bearerChallenge(a.header) {
				c.set(checkWrongToken, Fail, "%s %s: 401 without WWW-Authenticate: Bearer (RFC 6750 §3)", method, with)
				return
			}
			for _, s := range secrets {
				if bytes.Contains(a.body, []byte(s)) {
					c.set(checkWrongToken, Fail, "%s %s: 401 with the client's credentials in the body", method, with)
					return
				}
			}
			for _, member := range []string{"redirect_uris", "client_secret", "registration_access_token", "registration_client_uri"} {
				if _, ok := a.object[member]; ok {
					c.set(checkWrongToken, Fail, "%s %s: 401 with the client's %s in the body", method, with, member)
					return
				}
			}
		}
	}
	c.set(checkWrongToken, Pass, "GET, PUT, DELETE with a wrong token and without one: 401 with a Bearer challenge, no client data")
}

// bearerChallenge reports whether h has a WWW-Authenticate challenge of
// the Bearer scheme (RFC 6750 §3: a 401 for a missing or bad token MUST
// have one), in any case, alone or with parameters.
func bearerChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		v = strings.TrimSpace(v)
		if len(v) >= 6 && strings.EqualFold(v[:6], "Bearer") && (len(v) == 6 || v[6] == ' ' || v[6] == ',') {
			return true
		}
	}
	return false
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "dcr-doctor-wrong-" + hex.EncodeToString(b)
}

// changedRedirectURI is uri with another port (loopback) or another
// query, for the update check.
func changedRedirectURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri + "-updated"
	}
	if u.Scheme == "http" && loopback.RedirectHost(u.Hostname()) {
		port, _ := strconv.Atoi(u.Port())
		u.Host = strings.TrimSuffix(u.Host, ":"+u.Port()) + ":" + strconv.Itoa(port%65535+1)
		return u.String()
	}
	q := u.Query()
	q.Set("dcr-doctor", "updated")
	u.RawQuery = q.Encode()
	return u.String()
}

// update: PUT that changes a redirect URI is 200, and the change shows in
// the answer and in a later GET (RFC 7592 §2.2).
func (c *checker) update(ctx context.Context, reg registration, probe map[string]any) registration {
	uris, _ := stringList(probe["redirect_uris"])
	if len(uris) == 0 {
		c.set(checkUpdate, Skip, "the probe has no redirect URI to change")
		return reg
	}
	old, changed := uris[0], changedRedirectURI(uris[0])
	m := withName(probe, "dcr-doctor probe")
	m["redirect_uris"] = []any{changed}
	a, err := c.do(ctx, request{method: http.MethodPut, url: reg.uri, token: reg.token, body: updateBody(m, reg)})
	if err != nil {
		c.set(checkUpdate, Fail, "%v", err)
		return reg
	}
	if a.status == http.StatusBadRequest && dcr.ErrorCode(a.str("error")) == dcr.InvalidRedirectURI {
		c.set(checkUpdate, Skip, "the server's policy refused the changed redirect URI %s: %s", changed, a.errorText())
		return reg
	}
	if a.status != http.StatusOK || !a.isJSON() {
		c.set(checkUpdate, Fail, "PUT changing redirect_uris to [%s]: %d %s, not 200 with JSON", changed, a.status, a.errorText())
		return reg
	}
	if t := a.str("registration_access_token"); t != "" {
		reg.token = t
	}
	if got, _ := stringList(a.object["redirect_uris"]); !slices.Contains(got, changed) || slices.Contains(got, old) {
		c.set(checkUpdate, Fail, "PUT changing redirect_uris to [%s] was answered 200 with redirect_uris %s", changed, show(a.object["redirect_uris"]))
		return reg
	}
	read, err := c.do(ctx, request{method: http.MethodGet, url: reg.uri, token: reg.token})
	if err != nil {
		c.set(checkUpdate, Fail, "%v", err)
		return reg
	}
	if got, _ := stringList(read.object["redirect_uris"]); read.status != http.StatusOK || !slices.Contains(got, changed) || slices.Contains(got, old) {
		c.set(checkUpdate, Fail, "after the PUT, GET answered %d with redirect_uris %s, not [%s]", read.status, show(read.object["redirect_uris"]), changed)
		return reg
	}
	c.set(checkUpdate, Pass, "200; the changed redirect URI is in the answer and in a later GET")
	return reg
}

// delete: DELETE is 204; then GET is 401 and a second DELETE is not 2xx
// (RFC 7592 §2.3). It reports whether the client is gone.
func (c *checker) delete(ctx context.Context, reg registration) bool {
	a, err := c.do(ctx, request{method: http.MethodDelete, url: reg.uri, token: reg.token})
	if err != nil {
		c.set(checkDelete, Fail, "%v", err)
		return false
	}
	if a.status != http.StatusNoContent {
		c.set(checkDelete, Fail, "DELETE: %d %s, not 204", a.status, a.errorText())
		return a.status/100 == 2
	}
	read, err := c.do(ctx, request{method: http.MethodGet, url: reg.uri, token: reg.token})
	if err != nil {
		c.set(checkDelete, Fail, "%v", err)
		return true
	}
	if read.status != http.StatusUnauthorized {
		c.set(checkDelete, Fail, "GET after DELETE: %d, not 401", read.status)
		return true
	}
	again, err := c.do(ctx, request{method: http.MethodDelete, url: reg.uri, token: reg.token})
	if err != nil {
		c.set(checkDelete, Fail, "%v", err)
		return true
	}
	if again.status/100 == 2 {
		c.set(checkDelete, Fail, "a second DELETE: %d, not an error", again.status)
		return true
	}
	c.set(checkDelete, Pass, "204; then GET 401, a second DELETE %d", again.status)
	return true
}

// noStore: every answer has Cache-Control: no-store (RFC 7591 §3.2.1 and
// §3.2.2; RFC 7592 §3 for the client configuration endpoint).
func (c *checker) noStore() {
	for _, a := range c.answers {
		if !hasNoStore(a.header) {
			c.set(checkNoStore, Fail, "%s without Cache-Control: no-store (Cache-Control %q)", a, a.header.Get("Cache-Control"))
			return
		}
	}
	if len(c.answers) == 0 {
		c.set(checkNoStore, Skip, "no answer")
		return
	}
	c.set(checkNoStore, Pass, "all %d answers", len(c.answers))
}

func hasNoStore(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-store") {
				return true
			}
		}
	}
	return false
}
