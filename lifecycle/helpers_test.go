package lifecycle_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

var ctx = context.Background()

// clock is a settable time shared by the emulator and Run.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	srv    *authletetest.Server
	client *authlete.Admin
	dcr    *authlete.Client
	cfg    authlete.Config // of dcr
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	clk := &clock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	srv := authletetest.NewServer(t, authletetest.Options{Now: clk.Now, MaxClients: -1})
	dcr := srv.Client(t)
	return &fixture{srv: srv, client: dcr.Admin(), dcr: dcr, cfg: srv.Config(), clock: clk}
}

// register registers a client and returns its ID and registration access
// token.
func (f *fixture) register(t *testing.T, name string) (id, token string) {
	t.Helper()
	resp, err := f.dcr.Register(ctx, &authlete.Request{JSON: `{"client_name":"` + name + `"}`})
	require.NoError(t, err)
	var info struct {
		ClientID                string `json:"client_id"`
		RegistrationAccessToken string `json:"registration_access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &info))
	return info.ClientID, info.RegistrationAccessToken
}

func (f *fixture) giveToken(t *testing.T, id string) {
	t.Helper()
	_, err := authletetest.CreateToken(ctx, f.cfg, id, "alice", []string{"mcp"})
	require.NoError(t, err)
}

// opts completes o with the fixture's clock and a silent logger, and, where
// o says no TTL, makes every client stale (AnyAge): the clients of these
// tests were registered a moment ago. TestRunZeroOptionsKeepClientsOfAMonth
// runs the zero value.
func (f *fixture) opts(o lifecycle.Options) lifecycle.Options {
	o.Now, o.Logger = f.clock.Now, slog.New(slog.DiscardHandler)
	if o.OlderThan == 0 {
		o.OlderThan = lifecycle.AnyAge
	}
	return o
}

func (f *fixture) exists(t *testing.T, id string) bool {
	t.Helper()
	_, err := f.client.GetClient(ctx, id)
	var ae *authlete.Error
	if err != nil && assert.ErrorAs(t, err, &ae) {
		assert.Equal(t, 404, ae.StatusCode)
		return false
	}
	return true
}

func (f *fixture) locked(t *testing.T, id string) bool {
	t.Helper()
	c, err := f.client.GetClient(ctx, id)
	require.NoError(t, err)
	return c.Locked
}

func kinds(r *lifecycle.Report) map[string]lifecycle.Kind {
	m := map[string]lifecycle.Kind{}
	for _, a := range r.Actions {
		m[a.ClientID] = a.Kind
	}
	return m
}

func keys(m map[string]time.Time) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
