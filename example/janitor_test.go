package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// slowAuthlete is an emulator whose every answer takes delay, as an
// Authlete that far away would; it counts the calls in flight.
type slowAuthlete struct {
	*authletetest.Emulator
	delay     time.Duration
	mu        sync.Mutex
	now, peak int
}

func (s *slowAuthlete) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.now++
	s.peak = max(s.peak, s.now)
	delay := s.delay
	s.mu.Unlock()
	time.Sleep(delay)
	s.Emulator.ServeHTTP(w, r)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
}

func (s *slowAuthlete) setDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// TestBlackBoxJanitorAtScale: a dry run of the built dcr-janitor over 3,000
// stale clients on an Authlete 20 ms away checks 8 clients at once (the
// default) and reports every one.
func TestBlackBoxJanitorAtScale(t *testing.T) {
	t.Parallel()
	slow := &slowAuthlete{Emulator: authletetest.New(authletetest.Options{MaxClients: -1})}
	srv := httptest.NewServer(slow)
	defer srv.Close()
	c, err := authlete.New(authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken})
	require.NoError(t, err)
	const clients = 3000
	for i := 0; i < clients; i++ {
		_, err := c.Register(context.Background(), &authlete.Request{JSON: `{"client_name":"mcp-remote"}`})
		require.NoError(t, err)
	}
	slow.setDelay(20 * time.Millisecond)
	start := time.Now()
	out := runJanitor(t, emulatorEnv(srv.URL, authletetest.DefaultAccessToken), "-older-than", "0", "-dry-run")
	elapsed := time.Since(start)
	t.Logf("dry run over %d stale clients, Authlete 20 ms away: %v (%d calls in flight at most)", clients, elapsed.Round(time.Millisecond), slow.peak)
	assert.Contains(t, out, "3000 clients, 3000 dynamically registered, 3000 older than 0s: kept 0, locked 0, unlocked 0, deleted 3000, skipped 0 (dry run: nothing changed)")
	assert.Equal(t, 8, slow.peak, "the token checks run 8 at a time")
	assert.Equal(t, clients, slow.Clients())
}

// TestBlackBoxJanitorDeletesOnlyWhatItMust: the built dcr-janitor leaves
// CIMD, OpenID Federation and static clients alone, and a client that
// someone else locked; it unlocks a client of its own that holds a live
// token again.
func TestBlackBoxJanitorDeletesOnlyWhatItMust(t *testing.T) {
	t.Parallel()
	emu := authletetest.NewServer(t, authletetest.Options{})
	c := emu.Client(t)
	ctx := context.Background()
	others := map[string]string{}
	for _, source := range []string{"METADATA_DOCUMENT", "AUTOMATIC_REGISTRATION", "EXPLICIT_REGISTRATION", "STATIC_REGISTRATION"} {
		others[source] = emu.AddClient(`{"client_name":"`+source+`"}`, source)
	}
	register := func() string {
		resp, err := c.Register(ctx, &authlete.Request{JSON: `{"client_name":"mcp-remote"}`})
		require.NoError(t, err)
		return clientIDOf(t, resp.ResponseContent)
	}
	stale, theirs, mine := register(), register(), register()
	require.NoError(t, c.Admin().LockClient(ctx, theirs, true)) // an administrator's lock
	env := emulatorEnv(emu.URL, authletetest.DefaultAccessToken)
	locks := t.TempDir() + "/locks.json"

	out := runJanitor(t, env, "-older-than", "0", "-grace", "1h", "-lock-file", locks, "-v")
	assert.Contains(t, out, "lock "+stale)
	assert.Contains(t, out, "lock "+mine)
	assert.Contains(t, out, "keep "+theirs)
	assert.Contains(t, out, "locked, but not by this janitor")
	for source, id := range others {
		assert.NotContains(t, out, id, source)
	}
	assert.Contains(t, out, "7 clients, 3 dynamically registered")

	// mine gets a live token (an administrator's auth/token/create): the
	// janitor lifts its own lock.
	require.NoError(t, c.Admin().LockClient(ctx, mine, false))
	_, err := authletetest.CreateToken(ctx, emu.Config(), mine, "alice", []string{"mcp"})
	require.NoError(t, err)
	require.NoError(t, c.Admin().LockClient(ctx, mine, true))
	out = runJanitor(t, env, "-older-than", "0", "-grace", "1h", "-lock-file", locks)
	assert.Contains(t, out, "unlock "+mine)
	got, err := c.Admin().GetClient(ctx, mine)
	require.NoError(t, err)
	assert.False(t, got.Locked)
	got, err = c.Admin().GetClient(ctx, theirs)
	require.NoError(t, err)
	assert.True(t, got.Locked, "someone else's lock stays")
	for source, id := range others {
		_, err := c.Admin().GetClient(ctx, id)
		assert.NoError(t, err, source)
	}
}

func clientIDOf(t *testing.T, responseContent string) string {
	t.Helper()
	var info struct {
		ID string `json:"client_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(responseContent), &info))
	return info.ID
}
