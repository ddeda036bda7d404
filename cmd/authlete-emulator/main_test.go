package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestServesWhatItPrints(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, authletetest.Options{ServiceID: "42", AccessToken: "tok"}, &out) }()

	// run writes before it serves; a call that reaches it proves both.
	var resp *authlete.Response
	require.Eventually(t, func() bool {
		c, err := authlete.New(authlete.Config{BaseURL: "http://" + ln.Addr().String(), ServiceAPIKey: "42", ServiceAccessToken: "tok"})
		require.NoError(t, err)
		resp, err = c.Register(context.Background(), &authlete.Request{JSON: `{}`})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, authlete.ActionCreated, resp.Action)
	cancel()
	require.NoError(t, <-done)
	printed := out.String()
	assert.Contains(t, printed, "AUTHLETE_BASE_URL=http://"+ln.Addr().String())
	assert.Regexp(t, regexp.MustCompile(`AUTHLETE_SERVICE_APIKEY=42\n`), printed)
	assert.Contains(t, printed, "AUTHLETE_SERVICE_ACCESSTOKEN=tok")
	assert.Contains(t, printed, "registration_client_uri: https://as.example.com/register/{client_id} (-management-endpoint")
}

// TestHalfSentBodyIsDropped protects the emulator from callers that send
// part of a body and wait: the server's ReadTimeout ends the request.
func TestHalfSentBodyIsDropped(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go run(ctx, ln, authletetest.Options{}, io.Discard)

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/%s/client/registration HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"json\":", authletetest.DefaultServiceID, authletetest.DefaultAccessToken)
	start := time.Now()
	conn.SetReadDeadline(start.Add(time.Minute))
	_, err = io.ReadAll(conn)
	assert.NoError(t, err, "the server ends the connection")
	assert.Less(t, time.Since(start), 30*time.Second, "within its ReadTimeout, not the test's minute")
}

// TestFlags: each service setting has a flag, and -h exits without error.
func TestFlags(t *testing.T) {
	policy := t.TempDir() + "/policy.json"
	require.NoError(t, os.WriteFile(policy, []byte(`{"scope":{"subset_of":["mcp"]}}`), 0o644))
	opts, addr, err := parseFlags([]string{"-addr", "127.0.0.1:1", "-dcr-scope-used-as-requestable", "-duplicate-software-id-blocked",
		"-cimd", "-cimd-http-alias-prohibited", "-cimd-http-permitted", "-cimd-query-permitted", "-cimd-allowlist", "claude.ai, chatgpt.com",
		"-cimd-metadata-policy", policy}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:1", addr)
	assert.True(t, opts.DCRScopeUsedAsRequestable)
	assert.True(t, opts.DuplicateSoftwareIDBlocked)
	assert.Equal(t, authletetest.CIMDSettings{Supported: true, HTTPAliasProhibited: true, HTTPPermitted: true, QueryPermitted: true,
		AllowlistEnabled: true, Allowlist: []string{"claude.ai", "chatgpt.com"}, MetadataPolicyEnabled: true,
		MetadataPolicy: `{"scope":{"subset_of":["mcp"]}}`}, opts.CIMD)

	var out strings.Builder
	_, _, err = parseFlags([]string{"-h"}, &out)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "-cimd-allowlist")
	_, _, err = parseFlags([]string{"stray"}, io.Discard)
	assert.Error(t, err)
	_, _, err = parseFlags([]string{"-cimd-metadata-policy", "/nonexistent"}, io.Discard)
	assert.Error(t, err)
}

// TestTokensBoundedByBytes is the finding that 33 tokens with 900 KB
// scopes grew a standalone emulator from 17 to 61 MB: with the default
// flags, the tokens' scopes never hold more than -max-token-bytes.
func TestTokensBoundedByBytes(t *testing.T) {
	opts, _, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, authletetest.DefaultMaxTokenBytes, opts.MaxTokenBytes)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, opts, io.Discard) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	cfg := authlete.Config{BaseURL: "http://" + ln.Addr().String(),
		ServiceAPIKey: opts.ServiceID, ServiceAccessToken: opts.AccessToken}
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	var resp *authlete.Response
	require.Eventually(t, func() bool {
		resp, err = c.Register(context.Background(), &authlete.Request{JSON: `{}`})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, authlete.ActionCreated, resp.Action)
	var info struct {
		ID string `json:"client_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &info))
	id := info.ID
	scope := []string{strings.Repeat("s", 900<<10)}
	held := 0
	for i := 0; i < 33; i++ {
		if _, err := authletetest.CreateToken(context.Background(), cfg, id, "alice", scope); err == nil {
			held++
		}
	}
	assert.Equal(t, authletetest.DefaultMaxTokenBytes/(900<<10), held, "tokens held")
}
