// Package lifecycle removes stale dynamically registered clients from an
// Authlete service.
//
// MCP clients re-register on every connect, and a service's client list
// fills with dead clones. Pruning must not strand a client still in use,
// so Run is activity-aware: it keeps every client that holds a live access
// or refresh token, and removes only clients of RFC 7591 dynamic
// registration (never a static, CIMD or OpenID Federation client) older
// than a TTL without one. With a grace period it first locks them
// (quarantine: reversible, the client gets no token and cannot read its
// configuration), records the lock in a LockRecord before it sets it, and
// deletes them on a later run once they have been locked for the grace
// period by that record; a client it locked that meanwhile holds a live
// token is unlocked. It never unlocks or deletes a client that someone else
// locked.
//
// Run is meant for cron or a Kubernetes CronJob (cmd/dcr-janitor): one run
// at a time, so replicas of the server need no lock. Run itself does not
// keep a second run off its record: hold the record for the whole run
// (dcr-janitor holds an exclusive file lock on it), or two runs strand
// each other's locks.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// Authlete is what Run needs of Authlete; *authlete.Admin has it.
type Authlete interface {
	ListClients(ctx context.Context, start, end int) (*authlete.ClientPage, error)
	ListTokens(ctx context.Context, clientID string, start, end int) (*authlete.TokenPage, error)
	LockClient(ctx context.Context, clientID string, locked bool) error
	DeleteClient(ctx context.Context, clientID string) error
}

// Defaults used where an Options field is zero.
const (
	// DefaultPageSize is how many clients or tokens Run asks for at a
	// time.
	DefaultPageSize = 100
	// DefaultConcurrency is how many clients Run checks and acts on at
	// once: 8 calls in flight keep a run over thousands of clients on an
	// Authlete 20 ms away to seconds, well under Authlete's rate limits.
	DefaultConcurrency = 8
	// DefaultOlderThan is the TTL where Options.OlderThan is zero: a
	// client registered less than 30 days ago is never stale.
	DefaultOlderThan = 30 * 24 * time.Hour
	// AnyAge, as Options.OlderThan, makes a client stale whatever its
	// age, even one registered a moment ago. Any negative OlderThan does.
	AnyAge time.Duration = -1
	// maxFailuresInARow is how many clients in a row may fail before Run
	// concludes that Authlete, not the clients, is failing, and stops.
	maxFailuresInARow = 10
)

// Options say which clients are stale and what to do with them. The zero
// value deletes, at once, every dynamically registered client older than
// DefaultOlderThan (30 days) without a live token that no one locked.
type Options struct {
	// OlderThan is the TTL: only clients created longer ago are stale.
	// Zero means DefaultOlderThan; AnyAge (or any negative duration) means
	// any age.
	OlderThan time.Duration
	// Grace is how long a stale client stays locked before it is deleted.
	// Zero means it is deleted at once, without being locked. A grace
	// period needs Locks.
	Grace time.Duration
	// Locks records the clients Run locked and when. Run deletes a locked
	// client only if it is there, once locked Grace long by it, and
	// unlocks it if it holds a live token again. Nil means no record: Run
	// then never locks, and never touches a locked client.
	Locks LockRecord
	// DryRun reports what would be done and changes nothing.
	DryRun bool
	// PageSize is the page size of the client and token lists. Zero means
	// DefaultPageSize.
	PageSize int
	// Concurrency is how many clients are checked and acted on at once.
	// Zero means DefaultConcurrency. Every call counts against Authlete's
	// rate limit: an HTTP 429 stops the run.
	Concurrency int
	// Now tells the time. Nil means time.Now.
	Now func() time.Time
	// Logger logs each decision: locks, unlocks, deletions and skipped
	// clients at Info, kept clients at Debug. Nil means slog.Default().
	Logger *slog.Logger
	// OnAction, if set, is called with each Action, as an audit hook,
	// from one goroutine at a time.
	OnAction func(Action)
}

// Kind is what Run does with a client: its decision.
type Kind string

// The kinds of Action.
const (
	Keep   Kind = "keep"   // the client has a live token, its grace is not over, or someone else locked it
	Lock   Kind = "lock"   // stale: locked, to be deleted after the grace period
	Unlock Kind = "unlock" // locked by Run, but it holds a live token again
	Delete Kind = "delete" // stale, and locked by Run for the grace period, or no grace set
	Skip   Kind = "skip"   // Authlete failed for this client; nothing was done
	Gone   Kind = "gone"   // the client was deleted meanwhile (HTTP 404 on its lock or unlock)
)

// Action is one decision about one dynamically registered client that is
// older than the TTL.
type Action struct {
	Kind       Kind // Keep, Lock, Unlock, Delete, Skip or Gone
	ClientID   string
	ClientName string
	CreatedAt  time.Time
	Reason     string
	// DryRun: the action was not carried out.
	DryRun bool
}

func (a Action) String() string {
	verb := string(a.Kind)
	if a.DryRun && a.Kind != Keep && a.Kind != Skip {
		verb = "would " + verb
	}
	return fmt.Sprintf("%s %s (%q, created %s): %s", verb, a.ClientID, a.ClientName, a.CreatedAt.UTC().Format(time.RFC3339), a.Reason)
}

// Report is what a run saw and did.
type Report struct {
	// Clients is how many clients the service has; Dynamic, how many of
	// them were dynamically registered; Stale, how many of those are older
	// than the TTL.
	Clients, Dynamic, Stale int
	// Kept, Locked, Unlocked and Deleted count the actions carried out
	// (or, in a dry run, that would be); Skipped, the clients Authlete
	// failed for; Gone, the clients deleted by someone else during the run
	// (found missing when Run locked or unlocked them).
	Kept, Locked, Unlocked, Deleted, Skipped, Gone int
	// Actions are in the order of the client list.
	Actions []Action
	// Warnings are problems that did not stop the run, such as a client
	// whose tokens could not be listed.
	Warnings []string
}

// Run lists the service's clients and removes the stale ones, as opts
// say. Every lock it sets is in opts.Locks before it is set: a run cut
// short at any point leaves no client locked that its record does not
// name. A client that Authlete fails for is skipped and reported; Run stops
// and returns an error, with the report of what was done until then, when
// Authlete limits its rate (HTTP 429), when ctx ends, when the record of
// locks cannot be read or written, or when maxFailuresInARow clients in a
// row fail. A client is never deleted unless its tokens were listed, and
// every action carried out is in the report.
func Run(ctx context.Context, a Authlete, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	report := &Report{}
	locks, err := loadLocks(opts)
	if err != nil {
		return report, err
	}
	stale, seen, complete, err := list(ctx, a, opts, report)
	if err != nil {
		return report, err
	}
	report.Stale = len(stale)

	r := &run{a: a, opts: opts, report: report, locks: locks, now: opts.Now()}
	// A recorded lock of a client that is gone is forgotten; not when the
	// list was cut short, where a client not seen may be there still.
	for id := range locks {
		if complete && !seen[id] && !opts.DryRun {
			delete(locks, id)
			r.dirty = true
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	report.Actions = r.clients(ctx, stale)
	err = context.Cause(ctx)
	if r.dirty && !opts.DryRun {
		if serr := r.save(); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil && !errors.Is(err, errStopped) {
		return report, err
	}
	return report, r.stopErr
}

// withDefaults is opts with each zero field that has a default set to it.
func (opts Options) withDefaults() Options {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OlderThan == 0 {
		opts.OlderThan = DefaultOlderThan
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts
}

// loadLocks returns the record of locks of opts, empty when there is
// none, and refuses a grace period without one.
func loadLocks(opts Options) (map[string]time.Time, error) {
	if opts.Grace > 0 && opts.Locks == nil {
		return nil, errors.New("lifecycle: a grace period needs Options.Locks, the record of the clients Run locked")
	}
	if opts.Locks == nil {
		return map[string]time.Time{}, nil
	}
	locks, err := opts.Locks.Load()
	if err != nil {
		return nil, fmt.Errorf("lifecycle: reading the record of locks: %w", err)
	}
	if locks == nil {
		locks = map[string]time.Time{}
	}
	return locks, nil
}

// clients decides about each client of stale, opts.Concurrency at a time,
// until ctx ends, and returns the actions, in the order of stale.
func (r *run) clients(ctx context.Context, stale []authlete.ClientSummary) []Action {
	results := make([]*Action, len(stale))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.opts.Concurrency, len(stale)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = r.client(ctx, stale[i])
			}
		}()
	}
feed:
	for i := range stale {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var actions []Action
	for _, act := range results {
		if act != nil {
			actions = append(actions, *act)
		}
	}
	return actions
}

// list lists the service's clients, first, before Run acts: deleting while
// paging would shift the pages. It returns the stale dynamically
// registered clients, the IDs of every client listed, and whether the list
// is complete: it stops early, with a warning, at a page that brings no
// client it has not seen (an Authlete that ignores start would otherwise
// be asked for every page of its total count) and after the pages that the
// first page's total count calls for, and one more.
func list(ctx context.Context, a Authlete, opts Options, report *Report) (stale []authlete.ClientSummary, seen map[string]bool, complete bool, err error) {
	seen = map[string]bool{}
	cutoff := opts.Now().Add(-opts.OlderThan)
	maxPages, firstTotal := 1, 0
	for n, start := 0, 0; ; n, start = n+1, start+opts.PageSize {
		page, err := a.ListClients(ctx, start, start+opts.PageSize)
		if err != nil {
			return nil, nil, false, fmt.Errorf("lifecycle: listing clients %d to %d: %w", start, start+opts.PageSize, err)
		}
		if n == 0 {
			firstTotal = page.TotalCount
			maxPages = firstTotal/opts.PageSize + 2
		}
		report.Clients = page.TotalCount
		fresh := 0
		for _, c := range page.Clients {
			id := strconv.FormatInt(c.ClientID, 10)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			if !c.Dynamic() {
				continue
			}
			report.Dynamic++
			if opts.OlderThan < 0 || time.UnixMilli(c.CreatedAt).Before(cutoff) {
				stale = append(stale, c)
			}
		}
		switch {
		case len(page.Clients) < opts.PageSize || start+opts.PageSize >= page.TotalCount:
			return stale, seen, true, nil
		case fresh == 0:
			report.Warnings = append(report.Warnings, fmt.Sprintf("the list of clients stopped at %d: Authlete's page of clients %d to %d brought none not listed before (does it ignore start?)", start, start, start+opts.PageSize))
			return stale, seen, false, nil
		case n+1 >= maxPages:
			report.Warnings = append(report.Warnings, fmt.Sprintf("the list of clients stopped at %d, after %d pages: Authlete's first page counted %d clients", start+opts.PageSize, n+1, firstTotal))
			return stale, seen, false, nil
		}
	}
}

// LockRecord keeps the clients that Run locked, by client ID, with the
// time of the lock. FileLocks is one in a file.
type LockRecord interface {
	// Load returns the record; an empty one when there is none yet.
	Load() (map[string]time.Time, error)
	// Save replaces the record.
	Save(map[string]time.Time) error
}

var (
	errStopped = errors.New("lifecycle: stopped")
	errRecord  = errors.New("lifecycle: writing the record of locks")
)

// run is the state of one Run, shared by its workers.
type run struct {
	a      Authlete
	opts   Options
	now    time.Time
	cancel context.CancelCauseFunc

	mu       sync.Mutex // guards what follows
	report   *Report
	locks    map[string]time.Time
	dirty    bool  // locks changed since the last save
	failures int   // clients in a row that Authlete failed for
	stopErr  error // why the run stopped, if it did
}

// client decides about c and, unless the run is dry, carries the decision
// out; it returns nil when the run stopped before c was done.
func (r *run) client(ctx context.Context, c authlete.ClientSummary) *Action {
	id := strconv.FormatInt(c.ClientID, 10)
	act := &Action{ClientID: id, ClientName: c.ClientName, CreatedAt: time.UnixMilli(c.CreatedAt), DryRun: r.opts.DryRun}
	live, err := hasLiveToken(ctx, r.a, id, r.now, r.opts.PageSize)
	if err != nil {
		return r.failed(ctx, act, "listing its tokens", err)
	}
	r.mu.Lock()
	lockedAt, ours := r.locks[id]
	r.mu.Unlock()
	if ours && !c.Locked {
		// Unlocked by someone else since: no longer Run's lock.
		r.forget(id)
		ours = false
	}
	switch {
	case c.Locked && !ours:
		act.Kind, act.Reason = Keep, "locked, but not by this janitor"
	case c.Locked && live:
		act.Kind, act.Reason = Unlock, "locked by this janitor, but it holds a live token"
	case c.Locked && r.opts.Grace > 0 && lockedAt.After(r.now.Add(-r.opts.Grace)):
		act.Kind, act.Reason = Keep, fmt.Sprintf("locked since %s; the grace period is not over", lockedAt.UTC().Format(time.RFC3339))
	case c.Locked:
		act.Kind, act.Reason = Delete, fmt.Sprintf("no live token, locked since %s", lockedAt.UTC().Format(time.RFC3339))
	case live:
		act.Kind, act.Reason = Keep, "it has a live token"
	case r.opts.Grace == 0:
		act.Kind, act.Reason = Delete, "no live token"
	default:
		act.Kind, act.Reason = Lock, fmt.Sprintf("no live token; deleted after %v locked", r.opts.Grace)
	}
	if !r.opts.DryRun {
		if err := r.carryOut(ctx, act); err != nil {
			return r.failed(ctx, act, string(act.Kind), err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = 0
	r.record(act)
	return act
}

// carryOut does what act says, and keeps the record of locks: a lock is
// recorded before it is set, and a recorded lock is forgotten only once
// Authlete has answered that it is not set.
func (r *run) carryOut(ctx context.Context, act *Action) error {
	var err error
	switch act.Kind {
	case Lock:
		if err = r.remember(act.ClientID); err != nil {
			return err // not recorded: not set
		}
		err = r.a.LockClient(ctx, act.ClientID, true)
		if refused(err) {
			// Authlete answered that it did not lock the client. A lock
			// whose outcome is unknown (no answer, 5xx, the run's end)
			// stays in the record; the next run forgets it if the client is
			// not locked.
			r.forget(act.ClientID)
		}
	case Unlock:
		if err = r.a.LockClient(ctx, act.ClientID, false); err == nil {
			r.forget(act.ClientID)
		}
	case Delete:
		err = r.a.DeleteClient(ctx, act.ClientID)
		if notFound(err) {
			err, act.Reason = nil, act.Reason+" (it was already gone)"
		}
		if err == nil {
			r.forget(act.ClientID)
		}
	}
	if notFound(err) { // on lock or unlock: a 404 on delete is done, above
		err, act.Kind, act.Reason = nil, Gone, "deleted meanwhile (HTTP 404 on "+string(act.Kind)+")"
		r.forget(act.ClientID)
	}
	return err
}

// notFound reports whether Authlete answered err with HTTP 404: the client
// is gone.
func notFound(err error) bool {
	var ae *authlete.Error
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// refused reports whether Authlete answered err with a refusal of the call
// (HTTP 4xx), so that it certainly did nothing.
func refused(err error) bool {
	var ae *authlete.Error
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500
}

// remember records a lock, before it is set: a run cut short must leave
// no client locked that the record does not name.
func (r *run) remember(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.locks[id] = r.now
	r.dirty = true
	if err := r.saveLocked(); err != nil {
		delete(r.locks, id)
		return err
	}
	return nil
}

func (r *run) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.locks[id]; ok {
		delete(r.locks, id)
		r.dirty = true
	}
}

func (r *run) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked()
}

// saveLocked writes the record; only a run that is not dry and has a
// record changes it. The caller holds r.mu.
func (r *run) saveLocked() error {
	if err := r.opts.Locks.Save(r.locks); err != nil {
		return fmt.Errorf("%w: %w", errRecord, err)
	}
	r.dirty = false
	return nil
}

// failed handles a failure of Authlete for the client of act: the run
// stops on a rate limit, on the end of ctx, on a record of locks that
// cannot be written and after maxFailuresInARow failures in a row;
// otherwise the client is skipped and reported.
func (r *run) failed(ctx context.Context, act *Action, doing string, err error) *Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ae *authlete.Error
	switch {
	case r.stopErr != nil:
		return nil
	case errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests:
		r.stop(fmt.Errorf("lifecycle: Authlete limits the rate of calls (HTTP 429) at client %s; run again later, or with a lower concurrency: %w", act.ClientID, err))
		return nil
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		r.stop(fmt.Errorf("lifecycle: %s client %s: %w", doing, act.ClientID, err))
		return nil
	case errors.Is(err, errRecord):
		// A lock could not be recorded, so it was not set: stop, rather
		// than try the record again for every client.
		r.stop(err)
		return nil
	}
	r.failures++
	if r.failures >= maxFailuresInARow {
		r.stop(fmt.Errorf("lifecycle: Authlete failed for %d clients in a row, the last %s: %s client %s: %w", r.failures, act.ClientID, doing, act.ClientID, err))
		return nil
	}
	act.Kind, act.Reason = Skip, fmt.Sprintf("%s failed: %v", doing, err)
	r.report.Warnings = append(r.report.Warnings, fmt.Sprintf("client %s skipped: %s", act.ClientID, act.Reason))
	r.record(act)
	return act
}

// stop ends the run with err. The caller holds r.mu.
func (r *run) stop(err error) {
	r.stopErr = err
	r.cancel(errStopped)
}

// record counts, logs and reports act. The caller holds r.mu.
func (r *run) record(act *Action) {
	level := slog.LevelInfo
	switch act.Kind {
	case Keep:
		r.report.Kept++
		level = slog.LevelDebug
	case Lock:
		r.report.Locked++
	case Unlock:
		r.report.Unlocked++
	case Delete:
		r.report.Deleted++
	case Skip:
		r.report.Skipped++
		level = slog.LevelWarn
	case Gone:
		r.report.Gone++
	}
	r.opts.Logger.LogAttrs(context.Background(), level, "lifecycle: "+string(act.Kind),
		slog.String("client_id", act.ClientID), slog.String("client_name", act.ClientName),
		slog.Time("created_at", act.CreatedAt), slog.String("reason", act.Reason), slog.Bool("dry_run", act.DryRun))
	if r.opts.OnAction != nil {
		r.opts.OnAction(*act)
	}
}

// hasLiveToken reports whether the client holds an access or refresh
// token that has not expired.
func hasLiveToken(ctx context.Context, a Authlete, id string, now time.Time, pageSize int) (bool, error) {
	for start := 0; ; start += pageSize {
		page, err := a.ListTokens(ctx, id, start, start+pageSize)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(page.AccessTokens, func(t authlete.TokenSummary) bool { return t.Live(now.UnixMilli()) }) {
			return true, nil
		}
		if len(page.AccessTokens) < pageSize || start+pageSize >= page.TotalCount {
			return false, nil
		}
	}
}
