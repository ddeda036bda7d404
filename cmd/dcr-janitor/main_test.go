package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestJanitor(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		resp, err := c.Register(ctx, &authlete.Request{JSON: `{"client_name":"Claude"}`})
		require.NoError(t, err)
		var info struct {
			ID string `json:"client_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &info))
		ids = append(ids, info.ID)
	}
	_, err := authletetest.CreateToken(ctx, srv.Config(), ids[0], "alice", []string{"mcp"})
	require.NoError(t, err)

	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-dry-run"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "would delete "+ids[1])
	assert.Contains(t, out.String(), "would delete "+ids[2])
	assert.NotContains(t, out.String(), ids[0])
	assert.Contains(t, out.String(), "3 clients, 3 dynamically registered, 3 older than 0s: kept 1, locked 0, unlocked 0, deleted 2, skipped 0 (dry run: nothing changed)")
	assert.Equal(t, 3, srv.Clients())

	out.Reset()
	locks := t.TempDir() + "/locks.json"
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-grace", "1h", "-lock-file", locks, "-v"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "keep "+ids[0]+` ("Claude", created `)
	assert.Contains(t, out.String(), "lock "+ids[1])
	assert.Contains(t, out.String(), "kept 1, locked 2, unlocked 0, deleted 0, skipped 0\n")
	record, err := os.ReadFile(locks)
	require.NoError(t, err)
	assert.Contains(t, string(record), ids[1], "the lock is recorded")

	out.Reset()
	srv.Inject(authletetest.Fault{Op: "client/get/list", Status: 401})
	err = run(ctx, []string{"-older-than", "0"}, &out, srv.Config())
	assert.ErrorContains(t, err, "HTTP 401")
	assert.Contains(t, out.String(), "0 clients")

	assert.Error(t, run(ctx, []string{"-grace", "-1h"}, &out, srv.Config()))
	assert.Error(t, run(ctx, nil, &out, authlete.Config{}), "no Authlete configuration")
}

// TestJanitorInvocation: -h exits 0 and says what a run does and reads;
// a mistyped invocation is an error that changes nothing.
func TestJanitorInvocation(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-h"}, &out, authlete.Config{}))
	for _, want := range []string{"DELETED AT ONCE", "-dry-run", "-lock-file", "-concurrency", "AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_ACCESSTOKEN", "AUTHLETE_SERVICE_APISECRET"} {
		assert.Contains(t, out.String(), want)
	}
	srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	for _, args := range [][]string{
		{"-dry-run", "yes"}, // a stray argument: everything after it would be ignored
		{"-older-than", "0", "--", "-dry-run"},
		{"-dryrun"},
		{"-grace", "1h"}, // without -lock-file
		{"-concurrency", "0"},
		{"-grace", "1h", "-lock-file", t.TempDir() + "/missing/locks.json"}, // the run's lock cannot be taken
	} {
		out.Reset()
		assert.Error(t, run(ctx, args, &out, srv.Config()), "%v", args)
		assert.Zero(t, srv.Calls("client/get/list"), "%v changed nothing", args)
	}
	assert.Equal(t, 1, srv.Clients())
}

// TestJanitorSkippedClientFails: a skipped client makes the run's exit
// status 1, after the others were done.
func TestJanitorSkippedClientFails(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	}
	srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 500, Times: 1})
	var out strings.Builder
	err := run(ctx, []string{"-older-than", "0", "-concurrency", "1"}, &out, srv.Config())
	assert.ErrorContains(t, err, "1 client(s) skipped")
	assert.Contains(t, out.String(), "deleted 1, skipped 1")
	assert.Contains(t, out.String(), "warning: client ")
	assert.Equal(t, 1, srv.Clients())
}

// TestJanitorClientGone: a client deleted by someone else when the janitor
// locks it (HTTP 404) is counted gone, and the run succeeds.
func TestJanitorClientGone(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	}
	srv.Inject(authletetest.Fault{Op: "client/lock_flag/update", Status: 404, Times: 1})
	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-grace", "1h", "-lock-file", t.TempDir() + "/locks.json"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "kept 0, locked 1, unlocked 0, deleted 0, gone 1, skipped 0\n")
	assert.NotContains(t, out.String(), "warning")
}
