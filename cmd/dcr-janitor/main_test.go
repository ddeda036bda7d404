package main

import (
	"context"
	"encoding/json"
	"strconv"
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
	n, _ := strconv.ParseInt(ids[0], 10, 64)
	_, err := c.CreateToken(ctx, n, "alice", nil)
	require.NoError(t, err)

	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-dry-run"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "would delete "+ids[1])
	assert.Contains(t, out.String(), "would delete "+ids[2])
	assert.NotContains(t, out.String(), ids[0])
	assert.Contains(t, out.String(), "3 clients, 3 dynamically registered, 3 older than 0s: kept 1, locked 0, deleted 2 (dry run: nothing changed)")
	assert.Equal(t, 3, srv.Clients())

	out.Reset()
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-grace", "1h", "-v"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "keep "+ids[0]+` ("Claude", created `)
	assert.Contains(t, out.String(), "lock "+ids[1])
	assert.Contains(t, out.String(), "kept 1, locked 2, deleted 0\n")

	out.Reset()
	srv.Inject(authletetest.Fault{Op: "client/get/list", Status: 401})
	err = run(ctx, []string{"-older-than", "0"}, &out, srv.Config())
	assert.ErrorContains(t, err, "HTTP 401")
	assert.Contains(t, out.String(), "0 clients")

	assert.Error(t, run(ctx, []string{"-grace", "-1h"}, &out, srv.Config()))
	assert.Error(t, run(ctx, nil, &out, authlete.Config{}), "no Authlete configuration")
}
