package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

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
	assert.Equal(t, map[string]lifecycle.Kind{used: lifecycle.Keep, dead1: lifecycle.Delete, dead2: lifecycle.Delete}, kinds(dry))
	assert.Equal(t, 2, dry.Deleted)
	assert.ElementsMatch(t, dry.Actions, audited, "every action reaches the audit hook")
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
	resp, err := f.dcr.Get(ctx, &authlete.Request{ClientID: dead1, Token: rat1})
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
	assert.Equal(t, map[string]lifecycle.Kind{old: lifecycle.Delete}, kinds(report))
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
	opts := f.opts(lifecycle.Options{Grace: 7 * 24 * time.Hour, Locks: lifecycle.FileLocks(t.TempDir() + "/locks.json")})

	first, err := lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{id: lifecycle.Lock, used: lifecycle.Keep}, kinds(first))
	assert.True(t, f.locked(t, id))
	assert.False(t, f.locked(t, used))
	resp, err := f.dcr.Get(ctx, &authlete.Request{ClientID: id, Token: rat})
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
	for i := 0; i < 4; i++ {
		_, err := authletetest.CreateToken(ctx, f.cfg, ids[5], "bob", nil)
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

// memLocks is a LockRecord in memory, whose Save may fail.
type memLocks struct {
	mu      sync.Mutex
	locks   map[string]time.Time
	loadErr error
	saveErr error
	fails   int // saves to fail before saveErr applies
	saves   int
}

func (m *memLocks) Load() (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range m.locks {
		out[k] = v
	}
	return out, m.loadErr
}

func (m *memLocks) Save(l map[string]time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fails > 0 {
		m.fails--
		return errors.New("disk full for a moment")
	}
	if m.saveErr != nil {
		return m.saveErr
	}
	m.saves++
	m.locks = map[string]time.Time{}
	for k, v := range l {
		m.locks[k] = v
	}
	return nil
}

// TestRunSkipsAClientAuthleteFailsFor: a client whose tokens cannot be
// listed, or whose deletion fails, is reported and skipped; the others
// are done, and the next run gets past it.
func TestRunSkipsAClientAuthleteFailsFor(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		f.register(t, "x")
	}
	f.srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 503, Times: 1})
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Concurrency: 1}))
	require.NoError(t, err)
	assert.Equal(t, 1, report.Skipped)
	assert.Equal(t, 2, report.Deleted)
	assert.Equal(t, lifecycle.Skip, report.Actions[0].Kind)
	assert.Contains(t, report.Actions[0].Reason, "listing its tokens failed")
	assert.Contains(t, report.Actions[0].Reason, "HTTP 503")
	require.Len(t, report.Warnings, 1)
	assert.Contains(t, report.Warnings[0], "client "+report.Actions[0].ClientID+" skipped")
	assert.Equal(t, 1, f.srv.Clients(), "no client is deleted without its tokens listed")

	f.register(t, "y")
	f.srv.Inject(authletetest.Fault{Op: "client/delete", Status: 500, Times: 1})
	report, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Concurrency: 1}))
	require.NoError(t, err)
	assert.Equal(t, []lifecycle.Kind{lifecycle.Skip, lifecycle.Delete}, []lifecycle.Kind{report.Actions[0].Kind, report.Actions[1].Kind})
	assert.Contains(t, report.Actions[0].Reason, "delete failed")
	assert.Equal(t, 1, f.srv.Clients())

	report, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	require.NoError(t, err)
	assert.Equal(t, 1, report.Deleted, "the next run gets past it")
	assert.Equal(t, 0, f.srv.Clients())
}

// goneMeanwhile deletes each client just before Run deletes it, as
// another janitor or an administrator would.
type goneMeanwhile struct{ *authlete.Admin }

func (g goneMeanwhile) DeleteClient(ctx context.Context, id string) error {
	if err := g.Admin.DeleteClient(ctx, id); err != nil {
		return err
	}
	return g.Admin.DeleteClient(ctx, id)
}

// TestRunDeletedMeanwhile: a 404 on delete is done, not a failure.
func TestRunDeletedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.register(t, "x")
	report, err := lifecycle.Run(ctx, goneMeanwhile{f.client}, f.opts(lifecycle.Options{}))
	require.NoError(t, err)
	assert.Equal(t, 1, report.Deleted)
	assert.Contains(t, report.Actions[0].Reason, "already gone")
	assert.Empty(t, report.Warnings)
}

// TestRunStops: the failures that end a run, with what was done until
// then.
func TestRunStops(t *testing.T) {
	var ae *authlete.Error
	t.Run("listing clients", func(t *testing.T) {
		f := newFixture(t)
		f.register(t, "x")
		f.srv.Inject(authletetest.Fault{Op: "client/get/list", Status: 401, Times: 1})
		_, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Refused())
		assert.ErrorContains(t, err, "listing clients 0 to 100")
		assert.Equal(t, 1, f.srv.Clients())
	})
	t.Run("rate limited", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 5; i++ {
			f.register(t, "x")
		}
		f.srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 429, RetryAfter: "10"})
		report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Concurrency: 2}))
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 429, ae.StatusCode)
		assert.ErrorContains(t, err, "limits the rate")
		assert.Empty(t, report.Actions)
		assert.LessOrEqual(t, f.srv.Calls("auth/token/get/list"), 2+2, "the run stops, it does not go through every client")
		assert.Equal(t, 5, f.srv.Clients())
	})
	t.Run("failures in a row", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 30; i++ {
			f.register(t, "x")
		}
		f.srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 500})
		report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Concurrency: 1}))
		require.ErrorAs(t, err, &ae)
		assert.ErrorContains(t, err, "failed for 10 clients in a row")
		assert.Equal(t, 9, report.Skipped)
		assert.Equal(t, 10, f.srv.Calls("auth/token/get/list"))
	})
	t.Run("context ends", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 5; i++ {
			f.register(t, "x")
		}
		ctx, cancel := context.WithCancel(ctx)
		report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Concurrency: 1, OnAction: func(lifecycle.Action) { cancel() }}))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, report.Deleted)
		assert.Equal(t, 4, f.srv.Clients())
	})
	t.Run("context ends during a call", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 3; i++ {
			f.register(t, "x")
		}
		ctx, cancel := context.WithCancel(ctx)
		report, err := lifecycle.Run(ctx, cancelling{f.client, cancel}, f.opts(lifecycle.Options{Concurrency: 1}))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, report.Skipped, "a call the run's end cut short is not a client Authlete failed for")
		assert.Empty(t, report.Warnings)
		assert.Equal(t, 3, f.srv.Clients())
	})
	t.Run("context ends with a cause during a call", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 3; i++ {
			f.register(t, "x")
		}
		ctx, cancel := context.WithCancelCause(ctx)
		stopped := errors.New("stopped by signal terminated")
		report, err := lifecycle.Run(ctx, cancelling{f.client, func() { cancel(stopped) }}, f.opts(lifecycle.Options{Concurrency: 1}))
		assert.ErrorIs(t, err, stopped)
		assert.Zero(t, report.Skipped, "a call cut short by the run's end, whatever its cause, is not a client Authlete failed for")
		assert.Empty(t, report.Warnings)
		assert.Equal(t, 3, f.srv.Clients())
	})
	t.Run("record unreadable", func(t *testing.T) {
		f := newFixture(t)
		f.register(t, "x")
		_, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: &memLocks{loadErr: errors.New("disk gone")}}))
		assert.ErrorContains(t, err, "reading the record of locks: disk gone")
		assert.Zero(t, f.srv.Calls("client/get/list"), "nothing was asked of Authlete")
	})
	t.Run("record unwritable", func(t *testing.T) {
		f := newFixture(t)
		for i := 0; i < 3; i++ {
			f.register(t, "x")
		}
		report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Concurrency: 1, Locks: &memLocks{saveErr: errors.New("read-only")}}))
		assert.ErrorContains(t, err, "writing the record of locks: read-only")
		assert.Empty(t, report.Actions)
		assert.Zero(t, report.Locked)
		assert.Zero(t, f.srv.Calls("client/lock_flag/update"), "no client is locked when its lock cannot be recorded first")
	})
	t.Run("record unwritable for a moment", func(t *testing.T) {
		f := newFixture(t)
		id, _ := f.register(t, "x")
		locks := &memLocks{fails: 1}
		report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks}))
		assert.ErrorContains(t, err, "writing the record of locks: disk full for a moment")
		assert.Zero(t, report.Locked)
		assert.False(t, f.locked(t, id))
		assert.Equal(t, 1, locks.saves, "the record is written at the end of the run")
		assert.Empty(t, locks.locks, "without the lock it could not record first")
	})
	t.Run("grace without a record", func(t *testing.T) {
		f := newFixture(t)
		_, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour}))
		assert.ErrorContains(t, err, "a grace period needs Options.Locks")
		assert.Zero(t, f.srv.Calls("client/get/list"))
	})
}

// TestRunOnlyRegistrationClients: a CIMD client, an OpenID Federation one
// and a static one are never touched, though Authlete says the first two
// were dynamically registered.
func TestRunOnlyRegistrationClients(t *testing.T) {
	f := newFixture(t)
	dcr, _ := f.register(t, "dcr")
	others := map[string]string{}
	for _, source := range []string{"METADATA_DOCUMENT", "AUTOMATIC_REGISTRATION", "EXPLICIT_REGISTRATION", "STATIC_REGISTRATION"} {
		others[source] = f.srv.AddClient(`{"client_name":"`+source+`"}`, source)
		require.NotEmpty(t, others[source])
	}
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{}))
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{dcr: lifecycle.Delete}, kinds(report))
	assert.Equal(t, 5, report.Clients)
	assert.Equal(t, 1, report.Dynamic)
	for source, id := range others {
		assert.True(t, f.exists(t, id), source)
	}
}

// TestRunLocksOfItsOwn: Run unlocks a client it locked that holds a live
// token, never unlocks or deletes a client someone else locked, and
// forgets a lock that someone else lifted or a client that is gone.
func TestRunLocksOfItsOwn(t *testing.T) {
	f := newFixture(t)
	mine, _ := f.register(t, "mine")
	theirs, _ := f.register(t, "theirs")
	lifted, _ := f.register(t, "lifted")
	f.clock.Add(48 * time.Hour) // all are long past any grace
	f.giveToken(t, mine)
	for _, id := range []string{mine, theirs} {
		require.NoError(t, f.client.LockClient(ctx, id, true))
	}
	locks := &memLocks{locks: map[string]time.Time{
		mine:             f.clock.Now().Add(-2 * time.Hour),
		lifted:           f.clock.Now().Add(-30 * 24 * time.Hour),
		"10000000000001": f.clock.Now().Add(-time.Hour), // deleted since
	}}
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks}))
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{mine: lifecycle.Unlock, theirs: lifecycle.Keep, lifted: lifecycle.Lock}, kinds(report))
	assert.False(t, f.locked(t, mine))
	assert.True(t, f.locked(t, theirs), "someone else's lock stays")
	assert.True(t, f.exists(t, theirs))
	assert.Equal(t, []string{lifted}, keys(locks.locks), "the record holds Run's own lock only")
	assert.Equal(t, f.clock.Now(), locks.locks[lifted], "locked now: the grace period starts again")
	assert.Equal(t, 1, report.Unlocked)

	// A dry run reads the record and changes neither it nor Authlete.
	saves := locks.saves
	f.clock.Add(2 * time.Hour)
	dry, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks, DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Delete, kinds(dry)[lifted])
	assert.Equal(t, saves, locks.saves)
	assert.True(t, f.exists(t, lifted))
}

// nilRecord is a LockRecord whose Load returns a nil map.
type nilRecord struct{ saved map[string]time.Time }

func (n *nilRecord) Load() (map[string]time.Time, error) { return nil, nil }
func (n *nilRecord) Save(l map[string]time.Time) error   { n.saved = l; return nil }

// TestRunNilRecord: a record that loads as nil is an empty one.
func TestRunNilRecord(t *testing.T) {
	f := newFixture(t)
	id, _ := f.register(t, "x")
	rec := &nilRecord{}
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: rec}))
	require.NoError(t, err)
	assert.Equal(t, 1, report.Locked)
	assert.Equal(t, []string{id}, keys(rec.saved))
}

// TestRunConcurrency: the token checks run Concurrency at a time, no more.
func TestRunConcurrency(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 40; i++ {
		f.register(t, "x")
	}
	counter := &inFlight{Admin: f.client}
	report, err := lifecycle.Run(ctx, counter, f.opts(lifecycle.Options{Concurrency: 4, DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, 40, report.Deleted)
	assert.Equal(t, 4, counter.peak, "four token checks at once")
	page, err := f.client.ListClients(ctx, 0, 100)
	require.NoError(t, err)
	for i, c := range page.Clients {
		assert.Equal(t, strconv.FormatInt(c.ClientID, 10), report.Actions[i].ClientID, "the report is in the list's order")
	}
}

// inFlight counts the ListTokens calls in flight, holding each until
// enough have arrived to reach the peak it can.
type inFlight struct {
	*authlete.Admin
	mu        sync.Mutex
	now, peak int
}

func (c *inFlight) ListTokens(ctx context.Context, id string, start, end int) (*authlete.TokenPage, error) {
	c.mu.Lock()
	c.now++
	c.peak = max(c.peak, c.now)
	c.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // an Authlete some way off
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	return c.Admin.ListTokens(ctx, id, start, end)
}

// cancelling cancels the run's context during its first token list.
type cancelling struct {
	*authlete.Admin
	cancel context.CancelFunc
}

func (c cancelling) ListTokens(ctx context.Context, id string, start, end int) (*authlete.TokenPage, error) {
	c.cancel()
	return c.Admin.ListTokens(ctx, id, start, end)
}

// TestRunZeroOptionsKeepClientsOfAMonth: the zero Options are the safe
// ones: a client younger than DefaultOlderThan (30 days) is not stale;
// "any age" takes AnyAge.
func TestRunZeroOptionsKeepClientsOfAMonth(t *testing.T) {
	f := newFixture(t)
	id, _ := f.register(t, "Claude")
	f.clock.Add(29 * 24 * time.Hour)
	zero := lifecycle.Options{Now: f.clock.Now, Logger: slog.New(slog.DiscardHandler)}
	report, err := lifecycle.Run(ctx, f.client, zero)
	require.NoError(t, err)
	assert.Equal(t, 1, report.Dynamic)
	assert.Zero(t, report.Stale, "a client of 29 days is not stale by default")
	assert.True(t, f.exists(t, id))

	young, _ := f.register(t, "Cursor")
	anyAge := zero
	anyAge.OlderThan, anyAge.DryRun = lifecycle.AnyAge, true
	report, err = lifecycle.Run(ctx, f.client, anyAge)
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{id: lifecycle.Delete, young: lifecycle.Delete}, kinds(report), "AnyAge: a client of a moment ago too")

	f.clock.Add(2 * 24 * time.Hour)
	report, err = lifecycle.Run(ctx, f.client, zero)
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{id: lifecycle.Delete}, kinds(report), "31 days: stale")
	assert.False(t, f.exists(t, id))
	assert.True(t, f.exists(t, young))
}

// recordChecker is an Authlete that, as each lock call arrives, reads the
// record of locks from its file, and fails the test unless it names the
// client already.
type recordChecker struct {
	lifecycle.Authlete
	t      *testing.T
	record lifecycle.LockRecord
	locks  atomic.Int32
}

func (c *recordChecker) LockClient(ctx context.Context, id string, locked bool) error {
	if locked {
		c.locks.Add(1)
		onDisk, err := c.record.Load()
		require.NoError(c.t, err)
		assert.Contains(c.t, keys(onDisk), id, "the lock of %s is recorded before it is set", id)
	}
	return c.Authlete.LockClient(ctx, id, locked)
}

// TestRunRecordsBeforeLocking: when the lock call reaches Authlete, the
// record on disk names the client already.
func TestRunRecordsBeforeLocking(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 5; i++ {
		f.register(t, "x")
	}
	record := lifecycle.FileLocks(t.TempDir() + "/locks.json")
	checker := &recordChecker{Authlete: f.client, t: t, record: record}
	report, err := lifecycle.Run(ctx, checker, f.opts(lifecycle.Options{Grace: time.Hour, Locks: record, Concurrency: 2}))
	require.NoError(t, err)
	assert.Equal(t, 5, report.Locked)
	assert.Equal(t, int32(5), checker.locks.Load())
}

// lockFault is an Authlete whose lock calls fail as fail says for some
// clients: a client deleted just before (404), a refusal, a failure of
// Authlete after it set the lock.
type lockFault struct {
	*authlete.Admin
	fail func(id string) string
}

func (l lockFault) LockClient(ctx context.Context, id string, locked bool) error {
	switch l.fail(id) {
	case "gone":
		if err := l.Admin.DeleteClient(ctx, id); err != nil {
			return err
		}
	case "refused":
		return &authlete.Error{Op: "lock client", StatusCode: 400, ResultCode: "A001201"}
	case "failed after":
		if err := l.Admin.LockClient(ctx, id, locked); err != nil {
			return err
		}
		return &authlete.Error{Op: "lock client", StatusCode: 502}
	}
	return l.Admin.LockClient(ctx, id, locked)
}

// TestRunLockFailures: a client gone when Run locks it (HTTP 404) is
// counted gone and the run goes on; a refused lock is struck from the
// record; a lock whose outcome is unknown stays in it, so that a lock that
// Authlete set is never stranded.
func TestRunLockFailures(t *testing.T) {
	f := newFixture(t)
	gone, _ := f.register(t, "gone")
	refusedID, _ := f.register(t, "refused")
	after, _ := f.register(t, "failed after")
	fine, _ := f.register(t, "fine")
	what := map[string]string{gone: "gone", refusedID: "refused", after: "failed after"}
	locks := &memLocks{}
	opts := f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks, Concurrency: 1})
	report, err := lifecycle.Run(ctx, lockFault{f.client, func(id string) string { return what[id] }}, opts)
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{gone: lifecycle.Gone, refusedID: lifecycle.Skip, after: lifecycle.Skip, fine: lifecycle.Lock}, kinds(report))
	assert.Equal(t, 1, report.Gone)
	assert.Equal(t, 2, report.Skipped)
	assert.Equal(t, 1, report.Locked)
	assert.Len(t, report.Warnings, 2, "the client gone is no warning")
	assert.ElementsMatch(t, []string{after, fine}, keys(locks.locks), "the refused lock is struck, the unknown one stays")
	assert.True(t, f.locked(t, after))

	// The next run: the client locked in spite of the failure is Run's own.
	f.clock.Add(2 * time.Hour)
	report, err = lifecycle.Run(ctx, f.client, opts)
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{refusedID: lifecycle.Lock, after: lifecycle.Delete, fine: lifecycle.Delete}, kinds(report))
	assert.Equal(t, []string{refusedID}, keys(locks.locks))

	// An unknown outcome where Authlete did not lock: the next run forgets it.
	lone, _ := f.register(t, "lone")
	locks.locks = map[string]time.Time{lone: f.clock.Now()}
	report, err = lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks, DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, lifecycle.Lock, kinds(report)[lone], "not locked at Authlete: not Run's lock")
}

// pages is an Authlete whose client list misbehaves.
type pages struct {
	*authlete.Admin
	ignoreStart bool // every page is the first
	endless     bool // every page brings new clients, and counts more
	calls       int
}

func (p *pages) ListClients(ctx context.Context, start, end int) (*authlete.ClientPage, error) {
	p.calls++
	if p.calls > 100 {
		return nil, errors.New("too many pages")
	}
	if p.endless {
		page := &authlete.ClientPage{Start: start, End: end, TotalCount: start + 3*(end-start)}
		for i := start; i < end; i++ {
			page.Clients = append(page.Clients, authlete.ClientSummary{ClientID: int64(1e13 + i), ClientSource: "STATIC_REGISTRATION"})
		}
		return page, nil
	}
	if p.ignoreStart {
		end, start = end-start, 0
	}
	return p.Admin.ListClients(ctx, start, end)
}

// TestRunBadPages: an Authlete that ignores start, or whose pages never
// end, is asked for a bounded number of pages; the run acts on what it
// listed, says so, and forgets no recorded lock of a client it did not
// see.
func TestRunBadPages(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 25; i++ {
		f.register(t, "x")
	}
	unseen := "10000000000001"
	locks := &memLocks{locks: map[string]time.Time{unseen: f.clock.Now()}}
	bad := &pages{Admin: f.client, ignoreStart: true}
	report, err := lifecycle.Run(ctx, bad, f.opts(lifecycle.Options{PageSize: 10, Grace: time.Hour, Locks: locks}))
	require.NoError(t, err)
	assert.Equal(t, 2, bad.calls, "the second page brought nothing new")
	assert.Equal(t, 10, report.Stale)
	assert.Equal(t, 10, report.Locked)
	require.Len(t, report.Warnings, 1)
	assert.Contains(t, report.Warnings[0], "brought none not listed before")
	assert.Contains(t, keys(locks.locks), unseen, "the list was cut short: a lock of a client not seen stays")

	endless := &pages{Admin: f.client, endless: true}
	report, err = lifecycle.Run(ctx, endless, f.opts(lifecycle.Options{PageSize: 10, DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, 30/10+2, endless.calls, "the pages the first one's count calls for, and one more")
	assert.Zero(t, report.Dynamic)
	require.Len(t, report.Warnings, 1)
	assert.Contains(t, report.Warnings[0], "first page counted 30 clients")
}

// TestRunUnlockGone: a client of Run's own that holds a live token and is
// deleted before Run unlocks it is counted gone, and forgotten.
func TestRunUnlockGone(t *testing.T) {
	f := newFixture(t)
	id, _ := f.register(t, "x")
	f.giveToken(t, id)
	require.NoError(t, f.client.LockClient(ctx, id, true))
	locks := &memLocks{locks: map[string]time.Time{id: f.clock.Now()}}
	report, err := lifecycle.Run(ctx, lockFault{f.client, func(string) string { return "gone" }}, f.opts(lifecycle.Options{Grace: time.Hour, Locks: locks}))
	require.NoError(t, err)
	assert.Equal(t, map[string]lifecycle.Kind{id: lifecycle.Gone}, kinds(report))
	assert.Equal(t, 1, report.Gone)
	assert.Zero(t, report.Unlocked)
	assert.Contains(t, report.Actions[0].Reason, "HTTP 404 on unlock")
	assert.Empty(t, locks.locks)
}

// TestRunListCalls: a list that ends on a full page is not asked for one
// more.
func TestRunListCalls(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 10; i++ {
		f.register(t, "x")
	}
	report, err := lifecycle.Run(ctx, f.client, f.opts(lifecycle.Options{PageSize: 5, DryRun: true}))
	require.NoError(t, err)
	assert.Equal(t, 10, report.Stale)
	assert.Equal(t, 2, f.srv.Calls("client/get/list"))
	assert.Empty(t, report.Warnings)
}

// Faults that the property test's Authlete and record show.
const (
	ok          = "ok"
	fail        = "fail"         // HTTP 500, nothing done
	failAfter   = "fail after"   // done, then HTTP 502: the caller cannot tell
	refuse      = "refuse"       // HTTP 400, nothing done
	gone        = "gone"         // the client is deleted just before: HTTP 404
	rateLimited = "rate limited" // HTTP 429
	cancelFirst = "cancel first" // the run ends before the call
	cancelAfter = "cancel after" // the call is done, and the run ends
)

// faultyAuthlete is an Authlete whose calls fail as plans say, in the
// order they come, and that checks, at each lock call, that the record on
// disk names the client already. It keeps the clients it locked for the
// janitor, to check at the end that none is stranded.
type faultyAuthlete struct {
	*authlete.Admin
	file   string
	cancel context.CancelFunc

	mu         sync.Mutex
	plans      map[string][]string // by call: the faults of its next calls
	mine       map[string]bool     // locked at Authlete by the janitor
	violations []string
}

func (a *faultyAuthlete) next(call string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	plan := a.plans[call]
	if len(plan) == 0 {
		return ok
	}
	a.plans[call] = plan[1:]
	return plan[0]
}

func (a *faultyAuthlete) violation(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.violations = append(a.violations, fmt.Sprintf(format, args...))
}

// do runs the call as fault says.
func (a *faultyAuthlete) do(ctx context.Context, op, fault, id string, call func(context.Context) error) error {
	switch fault {
	case fail, refuse, rateLimited:
		status := map[string]int{fail: 500, refuse: 400, rateLimited: 429}[fault]
		return &authlete.Error{Op: op, StatusCode: status, ResultCode: "A001100"}
	case gone:
		if err := a.Admin.DeleteClient(ctx, id); err != nil {
			return err
		}
	case cancelFirst:
		a.cancel()
		return &authlete.Error{Op: op, Err: context.Canceled}
	}
	err := call(context.WithoutCancel(ctx))
	switch {
	case err != nil:
		return err
	case fault == failAfter:
		return &authlete.Error{Op: op, StatusCode: 502}
	case fault == cancelAfter:
		a.cancel()
		return &authlete.Error{Op: op, Err: context.Canceled}
	}
	return nil
}

func (a *faultyAuthlete) ListClients(ctx context.Context, start, end int) (*authlete.ClientPage, error) {
	var page *authlete.ClientPage
	err := a.do(ctx, "list clients", a.next("list clients"), "", func(ctx context.Context) (err error) {
		page, err = a.Admin.ListClients(ctx, start, end)
		return err
	})
	return page, err
}

func (a *faultyAuthlete) ListTokens(ctx context.Context, id string, start, end int) (*authlete.TokenPage, error) {
	var page *authlete.TokenPage
	err := a.do(ctx, "list tokens", a.next("list tokens"), id, func(ctx context.Context) (err error) {
		page, err = a.Admin.ListTokens(ctx, id, start, end)
		return err
	})
	return page, err
}

func (a *faultyAuthlete) LockClient(ctx context.Context, id string, locked bool) error {
	if locked {
		onDisk, err := lifecycle.FileLocks(a.file).Load()
		if _, named := onDisk[id]; err != nil || !named {
			a.violation("lock of %s called before the record names it (record %v, %v)", id, keys(onDisk), err)
		}
	}
	return a.do(ctx, "lock client", a.next("lock client"), id, func(ctx context.Context) error {
		err := a.Admin.LockClient(ctx, id, locked)
		if err == nil {
			a.mu.Lock()
			a.mine[id] = locked
			a.mu.Unlock()
		}
		return err
	})
}

func (a *faultyAuthlete) DeleteClient(ctx context.Context, id string) error {
	return a.do(ctx, "delete client", a.next("delete client"), id, func(ctx context.Context) error {
		return a.Admin.DeleteClient(ctx, id)
	})
}

// faultyRecord is a LockRecord in a file whose saves fail as planned.
type faultyRecord struct {
	lifecycle.LockRecord
	mu    sync.Mutex
	fails []bool
}

func (r *faultyRecord) Save(locks map[string]time.Time) error {
	r.mu.Lock()
	failing := len(r.fails) > 0 && r.fails[0]
	if len(r.fails) > 0 {
		r.fails = r.fails[1:]
	}
	r.mu.Unlock()
	if failing {
		return errors.New("disk full")
	}
	return r.LockRecord.Save(locks)
}

// TestLockedIsRecorded is invariant 5: every lock the janitor sets is in
// its record before it is set, whatever fails: Authlete's calls (refused,
// failing before or after they are done, a client deleted meanwhile, rate
// limits), the record's writes, the run's end at any call. At each lock
// call the record on disk names the client; after each run every client
// the janitor locked at Authlete is in the record on disk (none
// stranded); a client someone else locked is neither unlocked nor deleted.
func TestLockedIsRecorded(t *testing.T) {
	base := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		clk := &clock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
		srv := httptest.NewServer(authletetest.New(authletetest.Options{Now: clk.Now, MaxClients: -1}))
		defer srv.Close()
		cfg := authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
			ServiceAccessToken: authletetest.DefaultAccessToken}
		dcr, err := authlete.New(cfg)
		if err != nil {
			rt.Fatal(err)
		}
		client := dcr.Admin()
		f := &fixture{client: client, dcr: dcr, cfg: cfg, clock: clk}
		theirs := map[string]bool{}
		for i := range rapid.IntRange(1, 12).Draw(rt, "clients") {
			id, _ := f.register(t, "c"+strconv.Itoa(i))
			switch rapid.SampledFrom([]string{"unused", "used", "theirs"}).Draw(rt, "client "+strconv.Itoa(i)) {
			case "used":
				f.giveToken(t, id)
			case "theirs":
				if err := client.LockClient(ctx, id, true); err != nil {
					rt.Fatal(err)
				}
				theirs[id] = true
			}
		}
		dir, err := os.MkdirTemp(base, "run")
		if err != nil {
			rt.Fatal(err)
		}
		file := filepath.Join(dir, "locks.json")
		faults := func(label string, kinds ...string) []string {
			return rapid.SliceOfN(rapid.SampledFrom(kinds), 0, 8).Draw(rt, label)
		}
		a := &faultyAuthlete{Admin: client, file: file, mine: map[string]bool{}}
		for run := range rapid.IntRange(1, 4).Draw(rt, "runs") {
			a.plans = map[string][]string{
				"list clients":  faults("list clients", ok, ok, ok, fail, cancelFirst),
				"list tokens":   faults("list tokens", ok, ok, fail, rateLimited, cancelFirst, cancelAfter),
				"lock client":   faults("lock client", ok, ok, fail, failAfter, refuse, gone, rateLimited, cancelFirst, cancelAfter),
				"delete client": faults("delete client", ok, ok, fail, failAfter, gone, cancelFirst, cancelAfter),
			}
			record := &faultyRecord{LockRecord: lifecycle.FileLocks(file), fails: rapid.SliceOfN(rapid.Bool(), 0, 8).Draw(rt, "record fails")}
			runCtx, cancel := context.WithCancel(ctx)
			a.cancel = cancel
			_, err := lifecycle.Run(runCtx, a, lifecycle.Options{
				OlderThan:   lifecycle.AnyAge,
				Grace:       time.Hour,
				Locks:       record,
				Concurrency: rapid.IntRange(1, 4).Draw(rt, "concurrency"),
				PageSize:    rapid.IntRange(1, 5).Draw(rt, "page size"),
				Now:         clk.Now,
				Logger:      slog.New(slog.DiscardHandler),
			})
			cancel()
			rt.Logf("run %d: %v", run, err)
			if len(a.violations) > 0 {
				rt.Fatalf("%v", a.violations)
			}
			onDisk, err := lifecycle.FileLocks(file).Load()
			if err != nil {
				rt.Fatal(err)
			}
			page, err := client.ListClients(ctx, 0, 100)
			if err != nil {
				rt.Fatal(err)
			}
			listed := map[string]bool{}
			for _, c := range page.Clients {
				id := strconv.FormatInt(c.ClientID, 10)
				if _, named := onDisk[id]; c.Locked && a.mine[id] && !named {
					rt.Fatalf("client %s is locked at Authlete by the janitor, and not in its record %v", id, keys(onDisk))
				}
				if theirs[id] && !c.Locked {
					rt.Fatalf("client %s, locked by someone else, was unlocked", id)
				}
				listed[id] = true
			}
			for id := range theirs {
				if !listed[id] {
					rt.Fatalf("client %s, locked by someone else, was deleted", id)
				}
			}
			clk.Add(rapid.SampledFrom([]time.Duration{0, 30 * time.Minute, 2 * time.Hour}).Draw(rt, "later"))
		}
	})
}
