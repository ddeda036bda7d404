package lifecycle_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
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
	client *authlete.Client
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	clk := &clock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	srv := authletetest.NewServer(t, authletetest.Options{Now: clk.Now, MaxClients: -1})
	return &fixture{srv: srv, client: srv.Client(t), clock: clk}
}

// register registers a client and returns its ID and registration access
// token.
func (f *fixture) register(t *testing.T, name string) (id, token string) {
	t.Helper()
	resp, err := f.client.Register(ctx, &authlete.Request{JSON: `{"client_name":"` + name + `"}`})
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
	n, _ := strconv.ParseInt(id, 10, 64)
	_, err := f.client.CreateToken(ctx, n, "alice", []string{"mcp"})
	require.NoError(t, err)
}

func (f *fixture) opts(o lifecycle.Options) lifecycle.Options {
	o.Now, o.Logger = f.clock.Now, slog.New(slog.DiscardHandler)
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

func kinds(r *lifecycle.Report) map[string]string {
	m := map[string]string{}
	for _, a := range r.Actions {
		m[a.ClientID] = a.Kind
	}
	return m
}

func TestRunDeletesClientsWithoutLiveTokens(t *testing.T) {
	f := newFixture(t)
	used, _ := f.register(t, "Claude")
	dead1, rat1 := f.register(t, "Claude")
	dead2, _ := f.register(t, "Claude")
	static := f.srv.AddStaticClient(`{"client_name":"console client"}`)
	require.NotEmpty(t, static)
	f.giveToken(t, used)

	var audited []lifecycle.Action
	dry, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{DryRun: true, OnAction: func(a lifecycle.Action) { audited = append(audited, a) }}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{used: lifecycle.Keep, dead1: lifecycle.Delete, dead2: lifecycle.Delete}, kinds(dry))
	assert.Equal(t, 2, dry.Deleted)
	assert.Equal(t, dry.Actions, audited, "every action reaches the audit hook")
	assert.Equal(t, 4, f.srv.Clients(), "a dry run changes nothing")
	assert.Contains(t, dry.Actions[1].String(), "would delete "+dead1+` ("Claude", created 2026-11-01T12:00:00Z): no live token`)
	for _, op := range []string{"client/delete", "client/lock_flag/update"} {
		assert.Zero(t, f.srv.Calls(op))
	}

	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Report{Clients: 4, Dynamic: 3, Stale: 3, Kept: 1, Deleted: 2, Actions: report.Actions}, *report)
	assert.True(t, f.exists(t, used))
	assert.True(t, f.exists(t, static), "a client registered in the console is never touched")
	assert.False(t, f.exists(t, dead1))
	assert.False(t, f.exists(t, dead2))
	resp, err := f.client.Get(ctx, &authlete.Request{ClientID: dead1, Token: rat1})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "the deleted client's registration access token is refused")
}

func TestRunKeepsYoungClients(t *testing.T) {
	f := newFixture(t)
	old, _ := f.register(t, "old")
	f.clock.Add(20 * time.Hour)
	young, _ := f.register(t, "young")
	f.clock.Add(5 * time.Hour)
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{OlderThan: 24 * time.Hour}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{old: lifecycle.Delete}, kinds(report))
	assert.Equal(t, 1, report.Stale)
	assert.True(t, f.exists(t, young))
}

func TestRunExpiredTokensAreNotLive(t *testing.T) {
	f := newFixture(t)
	id, _ := f.register(t, "x")
	f.giveToken(t, id)
	f.clock.Add(23 * time.Hour) // the access token expired, the refresh token lives
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Keep, kinds(report)[id], "a live refresh token keeps the client")
	f.clock.Add(2 * time.Hour) // both expired
	report, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Delete, kinds(report)[id])
	assert.False(t, f.exists(t, id))
}

func TestRunLocksFirstWithGrace(t *testing.T) {
	f := newFixture(t)
	id, rat := f.register(t, "stale")
	used, _ := f.register(t, "used")
	f.giveToken(t, used)
	opts := f.opts(lifecycle.Options{Grace: 7 * 24 * time.Hour})

	first, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{id: lifecycle.Lock, used: lifecycle.Keep}, kinds(first))
	assert.True(t, f.locked(t, id))
	assert.False(t, f.locked(t, used))
	resp, err := f.client.Get(ctx, &authlete.Request{ClientID: id, Token: rat})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionUnauthorized, resp.Action, "quarantined")

	f.clock.Add(6 * 24 * time.Hour)
	second, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Keep, kinds(second)[id], "the grace period is not over")
	assert.True(t, f.exists(t, id))

	f.clock.Add(2 * 24 * time.Hour)
	third, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Delete, kinds(third)[id])
	assert.False(t, f.exists(t, id))
	assert.True(t, f.exists(t, used))

	// An operator who unlocks a client in quarantine saves it until the
	// next run locks it again.
	id2, _ := f.register(t, "saved")
	_, err = lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	require.NoError(t, f.client.LockClient(ctx, id2, false))
	f.clock.Add(8 * 24 * time.Hour)
	again, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Lock, kinds(again)[id2])
}

func TestRunPagesThroughLargeLists(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for i := 0; i < 11; i++ {
		id, _ := f.register(t, "c"+strconv.Itoa(i))
		ids = append(ids, id)
	}
	// Four expired tokens, then a live one: the live one is on page 3.
	n, _ := strconv.ParseInt(ids[5], 10, 64)
	for i := 0; i < 4; i++ {
		_, err := f.client.CreateToken(ctx, n, "bob", nil)
		require.NoError(t, err)
	}
	f.clock.Add(48 * time.Hour)
	f.giveToken(t, ids[5])

	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{PageSize: 2}))
	require.NoError(t, err)
	assert.Equal(t, 11, report.Stale, "every page of clients was read")
	assert.Equal(t, lifecycle.Keep, kinds(report)[ids[5]], "every page of tokens was read")
	assert.Equal(t, 10, report.Deleted)
	assert.Equal(t, 1, f.srv.Clients())
}

func TestRunStopsOnAuthleteErrors(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		f.register(t, "x")
	}
	f.srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 503, Times: 1})
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	var ae *authlete.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.StatusCode)
	assert.ErrorContains(t, err, "listing the tokens of client")
	assert.Empty(t, report.Actions, "no client is deleted without its tokens listed")
	assert.Equal(t, 3, f.srv.Clients())

	// The second deletion fails: the first is reported, the rest not done.
	n := 0
	report, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{OnAction: func(lifecycle.Action) {
		if n++; n == 1 {
			f.srv.Inject(authletetest.Fault{Op: "client/delete", Status: 500, Times: 1})
		}
	}}))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 500, ae.StatusCode)
	assert.Len(t, report.Actions, 1)
	assert.Equal(t, 1, report.Deleted)
	assert.Equal(t, 2, f.srv.Clients())

	f.srv.Inject(authletetest.Fault{Op: "client/get/list", Status: 401, Times: 1})
	_, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Refused())
}

// staleModifiedAt is an Authlete whose lock leaves modifiedAt alone.
type staleModifiedAt struct{ *authlete.Client }

func (s staleModifiedAt) GetClient(ctx context.Context, id string) (*authlete.ClientSummary, error) {
	c, err := s.Client.GetClient(ctx, id)
	if c != nil {
		c.ModifiedAt = c.CreatedAt - int64(time.Hour/time.Millisecond)
	}
	return c, err
}

// TestRunChecksThatLockingUpdatesModifiedAt: the grace period counts from
// modifiedAt; a run warns when Authlete does not update it on lock.
func TestRunChecksThatLockingUpdatesModifiedAt(t *testing.T) {
	f := newFixture(t)
	f.register(t, "a")
	f.register(t, "b")
	opts := f.opts(lifecycle.Options{Grace: time.Hour})
	report, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, 2, report.Locked)
	assert.Empty(t, report.Warnings, "the emulator updates modifiedAt")
	assert.Equal(t, 1, f.srv.Calls("client/get"), "the first lock is read back, once")

	f2 := newFixture(t)
	f2.register(t, "a")
	report, err = lifecycle.Run(ctx, staleModifiedAt{f2.client}, f2.opts(lifecycle.Options{Grace: time.Hour}))
	require.NoError(t, err)
	require.Len(t, report.Warnings, 1)
	assert.Contains(t, report.Warnings[0], "Authlete did not update modifiedAt")
	assert.Equal(t, 1, report.Locked, "the run goes on")

	dry, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, DryRun: true}))
	require.NoError(t, err)
	assert.Empty(t, dry.Warnings)
}
