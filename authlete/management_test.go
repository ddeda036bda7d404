package authlete_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
)

// TestManagementWireFormat pins each management call's method, path,
// query, body and headers, and how its answer is read.
func TestManagementWireFormat(t *testing.T) {
	type seen struct{ method, uri, body, contentType, authorization string }
	var got seen
	answer, status := "", 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.RequestURI, string(body), r.Header.Get("Content-Type"), r.Header.Get("Authorization")}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	client, err := authlete.New(v3Config(srv.URL))
	require.NoError(t, err)
	c := client.Admin()
	ctx := context.Background()
	prefix := "/api/" + serviceID

	answer = `{"start":10,"end":20,"totalCount":21,"clients":[{"clientId":42,"clientName":"c","dynamicallyRegistered":true,"locked":true,"createdAt":5,"modifiedAt":6}]}`
	page, err := c.ListClients(ctx, 10, 20)
	require.NoError(t, err)
	assert.Equal(t, seen{"GET", prefix + "/client/get/list?end=20&start=10", "", "", "Bearer " + accessToken}, got)
	assert.Equal(t, &authlete.ClientPage{Start: 10, End: 20, TotalCount: 21, Clients: []authlete.ClientSummary{
		{ClientID: 42, ClientName: "c", DynamicallyRegistered: true, Locked: true, CreatedAt: 5, ModifiedAt: 6}}}, page)

	answer = `{"clientId":42,"clientName":"c"}`
	got1, err := c.GetClient(ctx, "42")
	require.NoError(t, err)
	assert.Equal(t, seen{"GET", prefix + "/client/get/42", "", "", "Bearer " + accessToken}, got)
	assert.Equal(t, "c", got1.ClientName)

	answer, status = "", 204
	require.NoError(t, c.DeleteClient(ctx, "42"))
	assert.Equal(t, seen{"DELETE", prefix + "/client/delete/42", "", "", "Bearer " + accessToken}, got)

	answer, status = `{"resultCode":"A145001","resultMessage":"ok"}`, 200
	require.NoError(t, c.LockClient(ctx, "42", true))
	assert.Equal(t, seen{"POST", prefix + "/client/lock_flag/update/42", `{"clientLocked":true}`, "application/json", "Bearer " + accessToken}, got)
	require.NoError(t, c.LockClient(ctx, "42", false))
	assert.Equal(t, `{"clientLocked":false}`, got.body)

	answer = `{"start":0,"end":2,"totalCount":1,"accessTokens":[{"clientId":42,"subject":"s","accessTokenExpiresAt":100,"refreshTokenExpiresAt":200,"createdAt":1}]}`
	tokens, err := c.ListTokens(ctx, "42", 0, 2)
	require.NoError(t, err)
	assert.Equal(t, seen{"GET", prefix + "/auth/token/get/list?clientIdentifier=42&end=2&start=0", "", "", "Bearer " + accessToken}, got)
	require.Len(t, tokens.AccessTokens, 1)
	tok := tokens.AccessTokens[0]
	assert.Equal(t, authlete.TokenSummary{ClientID: 42, Subject: "s", AccessTokenExpiresAt: 100, RefreshTokenExpiresAt: 200, CreatedAt: 1}, tok)
	for now, live := range map[int64]bool{99: true, 100: true, 199: true, 200: false, 201: false} {
		assert.Equal(t, live, tok.Live(now), "at %d", now)
	}
	assert.True(t, authlete.TokenSummary{AccessTokenExpiresAt: 100}.Live(99), "an access token alone")
	assert.False(t, authlete.TokenSummary{AccessTokenExpiresAt: 100}.Live(100))

	answer = `{"apiKey":1,"dynamicRegistrationSupported":true,"registrationManagementEndpoint":"https://a/register","loopbackRedirectionUriVariable":true}`
	svc, err := c.Service(ctx)
	require.NoError(t, err)
	assert.Equal(t, seen{"GET", prefix + "/service/get", "", "", "Bearer " + accessToken}, got)
	assert.Equal(t, &authlete.Service{APIKey: 1, DynamicRegistrationSupported: true, RegistrationManagementEndpoint: "https://a/register", LoopbackRedirectionURIVariable: true}, svc)

	assert.Equal(t, "42", authlete.ClientSummary{ClientID: 42}.ID())

	// Refusals and unexpected statuses are errors with Authlete's result.
	var ae *authlete.Error
	answer, status = `{"resultCode":"A001215","resultMessage":"no"}`, 403
	for name, call := range map[string]func() error{
		"list clients":  func() error { _, err := c.ListClients(ctx, 0, 1); return err },
		"get client":    func() error { _, err := c.GetClient(ctx, "42"); return err },
		"delete client": func() error { return c.DeleteClient(ctx, "42") },
		"lock client":   func() error { return c.LockClient(ctx, "42", true) },
		"list tokens":   func() error { _, err := c.ListTokens(ctx, "42", 0, 1); return err },
		"get service":   func() error { _, err := c.Service(ctx); return err },
	} {
		err := call()
		require.ErrorAs(t, err, &ae, name)
		assert.Equal(t, authlete.Error{Op: name, StatusCode: 403, ResultCode: "A001215", ResultMessage: "no"}, *ae)
	}
	answer, status = `{}`, 200
	assert.Error(t, c.DeleteClient(ctx, "42"), "delete answers 204, not 200")
	answer = `not json`
	_, err = c.ListClients(ctx, 0, 1)
	assert.ErrorIs(t, err, authlete.ErrMalformedResponse)
	c.GetClient(ctx, "a/b")
	assert.Equal(t, prefix+"/client/get/a%2Fb", got.uri, "the client ID is escaped")
}
