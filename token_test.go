package dcr_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

func TestInitialAccessToken(t *testing.T) {
	var logs bytes.Buffer
	backend := succeeding(content)
	h := newRouter(dcr.New(backend, dcr.Options{
		Logger: sinkLogger(t, slog.NewJSONHandler(&logs, nil)),
		InitialAccessToken: func(ctx context.Context, token string) error {
			if token != "iat-good" {
				return fmt.Errorf("unknown token %s", token) // a careless verifier
			}
			return nil
		},
	}))
	cases := []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"no token", "", 401, "Bearer"},
		{"wrong token", "Bearer iat-wrong-123456", 401, `Bearer error="invalid_token"`},
		{"malformed header", "Basic eDp5", 400, `Bearer error="invalid_request"`},
		{"good token", "Bearer iat-good", 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := send(h, "POST", "/register", tc.authorization, `{}`)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			if tc.status != 201 {
				code, _ := errorBody(t, rec.Body.Bytes())
				assert.Contains(t, []string{"invalid_token", "invalid_request"}, code)
			}
		})
	}
	assert.Equal(t, []call{{"register", authlete.Request{JSON: "{}"}}}, backend.recorded(),
		"only the good token reaches Authlete")
	assert.NotContains(t, logs.String(), "iat-wrong-123456")

	// Client configuration uses the registration access token only.
	rec := send(h, "GET", "/register/1", "Bearer "+ratToken, "")
	assert.Equal(t, 200, rec.Code)
}

func TestStaticTokens(t *testing.T) {
	verify := mustStaticTokens(t, "alpha", "beta")
	ctx := context.Background()
	for token, ok := range map[string]bool{"alpha": true, "beta": true, "": false, "alph": false, "alphaa": false, "gamma": false} {
		assert.Equal(t, ok, verify(ctx, token) == nil, "token %q", token)
	}
}

// TestStaticTokensRefusesTokensNoClientCanPresent protects operators from
// an initial access token that BearerToken would never return: every
// registration would be refused.
func TestStaticTokensRefusesTokensNoClientCanPresent(t *testing.T) {
	const rule = "RFC 6750 b64token"
	for _, tc := range []struct {
		tokens []string
		want   string
	}{
		{nil, "at least one"},
		{[]string{"s3cr3t!"}, `token 1 of 1 has a character that a bearer token cannot hold, "!" at byte 7`},
		{[]string{"good", "s3cr3t\n"}, `token 2 of 2 has a character that a bearer token cannot hold, "\n" at byte 7`},
		{[]string{"s3cr3t\n"}, `"\n" at byte 7`},
		{[]string{"a b"}, `" " at byte 2`},
		{[]string{"ab=c"}, `"=" at byte 3`},
		{[]string{""}, "token 1 of 1 is empty"},
		{[]string{strings.Repeat("a", 8<<10+1)}, "is 8193 bytes long"},
	} {
		verify, err := dcr.StaticTokens(tc.tokens...)
		assert.Nil(t, verify, "%q", tc.tokens)
		require.Error(t, err, "%q", tc.tokens)
		assert.Contains(t, err.Error(), tc.want)
		if len(tc.tokens) > 0 {
			assert.Contains(t, err.Error(), rule, "the error names the rule")
		}
	}
	// The edges of what is accepted: the longest token, padding, every
	// special character.
	_, err := dcr.StaticTokens(strings.Repeat("a", 8<<10), "a-._~+/==", "Z9")
	assert.NoError(t, err)
}

// mustStaticTokens is dcr.StaticTokens for tokens known to be good.
func mustStaticTokens(t *testing.T, tokens ...string) func(context.Context, string) error {
	t.Helper()
	verify, err := dcr.StaticTokens(tokens...)
	require.NoError(t, err)
	return verify
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		want    string
		wantErr bool
	}{
		{"none", nil, "", false},
		{"empty header", []string{""}, "", false},
		{"bearer", []string{"Bearer abc"}, "abc", false},
		{"case-insensitive scheme", []string{"BEARER abc"}, "abc", false},
		{"spaces", []string{"  Bearer   abc  "}, "abc", false},
		{"padding", []string{"Bearer YWJj=="}, "YWJj==", false},
		{"scheme only", []string{"Bearer"}, "", true},
		{"empty token", []string{"Bearer    "}, "", true},
		{"two headers", []string{"Bearer a", "Bearer a"}, "", true},
		{"two tokens", []string{"Bearer a b"}, "", true},
		{"comma list", []string{"Bearer a, Basic b"}, "", true},
		{"tab separator", []string{"Bearer\tabc"}, "", true},
		{"no separator", []string{"Bearerabc"}, "", true},
		{"padding only", []string{"Bearer =="}, "", true},
		{"padding inside", []string{"Bearer a=b"}, "", true},
		{"quotes", []string{`Bearer "abc"`}, "", true},
		{"basic", []string{"Basic YTpi"}, "", true},
		{"dpop", []string{"DPoP abc"}, "", true},
		{"non-ASCII", []string{"Bearer abcé"}, "", true},
		{"8 KiB", []string{"Bearer " + strings.Repeat("a", 8<<10)}, strings.Repeat("a", 8<<10), false},
		// The edges of each character range of b64token, and their neighbours.
		{"range edges", []string{"Bearer 09azAZ-._~+/"}, "09azAZ-._~+/", false},
		{"':' after '9'", []string{"Bearer 9:"}, "", true},
		{"'/' before '0' is allowed", []string{"Bearer /0"}, "/0", false},
		{"'@' before 'A'", []string{"Bearer @A"}, "", true},
		{"'[' after 'Z'", []string{"Bearer Z["}, "", true},
		{"'`' before 'a'", []string{"Bearer `a"}, "", true},
		{"'{' after 'z'", []string{"Bearer z{"}, "", true},
		{"',' between '+' and '-'", []string{"Bearer a,b"}, "", true},
		{"over 8 KiB", []string{"Bearer " + strings.Repeat("a", 8<<10+1)}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/register/1?access_token=query", nil)
			for _, v := range tc.headers {
				r.Header.Add("Authorization", v)
			}
			got, err := dcr.BearerToken(r)
			if tc.wantErr {
				assert.ErrorIs(t, err, dcr.ErrMalformedAuthorization)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestInitialAccessTokenVerifierIsDetached: the client going away while
// the verifier runs (after a counting store took the use, say) does not
// cut the verifier off, which would lose the use: its context keeps the
// request's values, has the BackendTimeout's deadline, and is not
// cancelled with the request's.
func TestInitialAccessTokenVerifierIsDetached(t *testing.T) {
	type key struct{}
	ctx, hangUp := context.WithCancel(context.WithValue(context.Background(), key{}, "request"))
	var verifierErr error
	var value any
	var deadline bool
	h := newRouter(dcr.New(succeeding(content), dcr.Options{
		Logger: sinkLogger(t),
		InitialAccessToken: func(ctx context.Context, token string) error {
			hangUp() // the client goes away while the store answers
			value = ctx.Value(key{})
			_, deadline = ctx.Deadline()
			verifierErr = ctx.Err()
			return verifierErr
		},
	}))
	r := httptest.NewRequest("POST", "/register", strings.NewReader(`{}`)).WithContext(ctx)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer iat-0123456789abcdef")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.NoError(t, verifierErr, "not cancelled with the request")
	assert.Equal(t, "request", value, "the request's values")
	assert.True(t, deadline, "bounded by BackendTimeout")
	assert.Equal(t, 201, rec.Code, "the registration goes on, as a Backend call does")
}
