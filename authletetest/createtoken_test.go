package authletetest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// TestCreateTokenWireFormat pins CreateToken's method, path, body and
// headers, and how its answer is read.
func TestCreateTokenWireFormat(t *testing.T) {
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
	cfg := authlete.Config{BaseURL: srv.URL, ServiceAPIKey: "7", ServiceAccessToken: "sat"}
	ctx := context.Background()

	answer = `{"resultCode":"A109001","action":"OK","accessToken":"at","expiresAt":9}`
	created, err := authletetest.CreateToken(ctx, cfg, "42", "alice", []string{"mcp"})
	require.NoError(t, err)
	assert.Equal(t, seen{"POST", "/api/7/auth/token/create", `{"clientId":42,"grantType":"AUTHORIZATION_CODE","scopes":["mcp"],"subject":"alice"}`, "application/json", "Bearer sat"}, got)
	assert.Equal(t, &authletetest.CreatedToken{ResultCode: "A109001", Action: "OK", AccessToken: "at", ExpiresAt: 9}, created)

	answer = `{"resultCode":"A109202","action":"BAD_REQUEST"}`
	_, err = authletetest.CreateToken(ctx, cfg, "42", "alice", nil)
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, authlete.Error{Op: "create token", StatusCode: 200, ResultCode: "A109202"}, *ae)
	assert.Equal(t, `{"clientId":42,"grantType":"AUTHORIZATION_CODE","subject":"alice"}`, got.body, "no scopes, not null")

	got = seen{}
	for _, id := range []string{"", "alias", "-1", "0", "4.2", "99999999999999999999"} {
		_, err = authletetest.CreateToken(ctx, cfg, id, "alice", nil)
		assert.ErrorIs(t, err, authletetest.ErrNotNumericClientID, "%q", id)
	}
	assert.Equal(t, seen{}, got, "no call for a client ID that is not a number")

	answer, status = `{"resultCode":"A001215","resultMessage":"no sat"}`, 403
	_, err = authletetest.CreateToken(ctx, cfg, "42", "a", nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, authlete.Error{Op: "create token", StatusCode: 403, ResultCode: "A001215", ResultMessage: "no REDACTED"}, *ae,
		"a refusal, without the credentials")
	answer, status = `not json`, 200
	_, err = authletetest.CreateToken(ctx, cfg, "42", "a", nil)
	assert.ErrorIs(t, err, authlete.ErrMalformedResponse)

	cfg.APIVersion, cfg.ServiceAPISecret = authlete.V2, "secret"
	answer = `{"resultCode":"A109001","action":"OK","accessToken":"at"}`
	_, err = authletetest.CreateToken(ctx, cfg, "42", "alice", nil)
	require.NoError(t, err)
	assert.Equal(t, "/api/auth/token/create", got.uri)
	_, err = authletetest.CreateToken(ctx, authlete.Config{BaseURL: srv.URL}, "42", "alice", nil)
	assert.Error(t, err, "a Config that New refuses")
}
