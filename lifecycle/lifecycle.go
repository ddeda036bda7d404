// Package lifecycle removes stale dynamically registered clients from an
// Authlete service.
//
// MCP clients re-register on every connect, and a service's client list
// fills with dead clones. Pruning must not strand a client still in use,
// so Run is activity-aware: it keeps every client that holds a live access
// or refresh token, and removes only dynamically registered clients older
// than a TTL without one. With a grace period it first locks them
// (quarantine: reversible, the client gets no token and cannot read its
// configuration) and deletes them on a later run, once they have been
// locked for the grace period; without one it deletes at once. The grace
// period counts from the client's modifiedAt, which Authlete updates when
// it locks a client; each run checks so at its first lock and reports it
// if not.
//
// Run is meant for cron or a Kubernetes CronJob (cmd/dcr-janitor): one run
// at a time, so replicas of the server need no lock.
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// Authlete is what Run needs of Authlete; *authlete.Client has it.
type Authlete interface {
	ListClients(ctx context.Context, start, end int) (*authlete.ClientPage, error)
	GetClient(ctx context.Context, clientID string) (*authlete.ClientSummary, error)
	ListTokens(ctx context.Context, clientID string, start, end int) (*authlete.TokenPage, error)
	LockClient(ctx context.Context, clientID string, locked bool) error
	DeleteClient(ctx context.Context, clientID string) error
}

// DefaultPageSize is how many clients or tokens Run asks for at a time
// when Options.PageSize is zero.
const DefaultPageSize = 100

// Options say which clients are stale and what to do with them. The zero
// value deletes, at once, every dynamically registered client without a
// live token.
type Options struct {
	// OlderThan is the TTL: only clients created longer ago are stale.
	// Zero means any age.
	OlderThan time.Duration
	// Grace is how long a stale client stays locked before it is deleted.
	// Zero means it is deleted at once, without being locked.
	Grace time.Duration
	// DryRun reports what would be done and changes nothing.
	DryRun bool
	// PageSize is the page size of the client and token lists. Zero means
	// DefaultPageSize.
	PageSize int
	// Now tells the time. Nil means time.Now.
	Now func() time.Time
	// Logger logs each decision: locks and deletions at Info, kept clients
	// at Debug. Nil means slog.Default().
	Logger *slog.Logger
	// OnAction, if set, is called with each Action, as an audit hook.
	OnAction func(Action)
}

// What Run does with a client.
const (
	Keep   = "keep"   // the client has a live token, or its grace is not over
	Lock   = "lock"   // stale: locked, to be deleted after the grace period
	Delete = "delete" // stale, and locked for the grace period or no grace set
)

// Action is one decision about one dynamically registered client that is
// older than the TTL.
type Action struct {
	Kind       string // Keep, Lock or Delete
	ClientID   string
	ClientName string
	CreatedAt  time.Time
	Reason     string
	// DryRun: the action was not carried out.
	DryRun bool
}

func (a Action) String() string {
	verb := a.Kind
	if a.DryRun && a.Kind != Keep {
		verb = "would " + a.Kind
	}
	return fmt.Sprintf("%s %s (%q, created %s): %s", verb, a.ClientID, a.ClientName, a.CreatedAt.UTC().Format(time.RFC3339), a.Reason)
}

// Report is what a run saw and did.
type Report struct {
	// Clients is how many clients the service has; Dynamic, how many of
	// them were dynamically registered; Stale, how many of those are older
	// than the TTL.
	Clients, Dynamic, Stale int
	// Kept, Locked and Deleted count the actions carried out (or, in a
	// dry run, that would be).
	Kept, Locked, Deleted int
	Actions               []Action
	// Warnings are problems that did not stop the run, such as an
	// Authlete that does not update modifiedAt when it locks a client.
	Warnings []string
}

// Run lists the service's clients and removes the stale ones, as opts
// say. It stops at the first failure of Authlete and returns it with the
// report of what was done until then: a client is never deleted unless
// its tokens were listed, and every action carried out is in the report.
func Run(ctx context.Context, a Authlete, opts Options) (*Report, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	now := opts.Now()
	report := &Report{}

	// List first, act after: deleting while paging would shift the pages.
	var stale []authlete.ClientSummary
	for start := 0; ; start += opts.PageSize {
		page, err := a.ListClients(ctx, start, start+opts.PageSize)
		if err != nil {
			return report, fmt.Errorf("lifecycle: listing clients %d to %d: %w", start, start+opts.PageSize, err)
		}
		report.Clients = page.TotalCount
		for _, c := range page.Clients {
			if !c.DynamicallyRegistered {
				continue
			}
			report.Dynamic++
			if opts.OlderThan == 0 || time.UnixMilli(c.CreatedAt).Before(now.Add(-opts.OlderThan)) {
				stale = append(stale, c)
			}
		}
		if len(page.Clients) < opts.PageSize || start+opts.PageSize >= page.TotalCount {
			break
		}
	}
	report.Stale = len(stale)

	for _, c := range stale {
		id := strconv.FormatInt(c.ClientID, 10)
		act := Action{ClientID: id, ClientName: c.ClientName, CreatedAt: time.UnixMilli(c.CreatedAt), DryRun: opts.DryRun}
		live, err := hasLiveToken(ctx, a, id, now, opts.PageSize)
		if err != nil {
			return report, fmt.Errorf("lifecycle: listing the tokens of client %s: %w", id, err)
		}
		lockedSince := time.UnixMilli(c.ModifiedAt) // the lock is the client's last change
		switch {
		case live:
			act.Kind, act.Reason = Keep, "it has a live token"
		case opts.Grace == 0:
			act.Kind, act.Reason = Delete, "no live token"
		case !c.Locked:
			act.Kind, act.Reason = Lock, fmt.Sprintf("no live token; deleted after %v locked", opts.Grace)
		case lockedSince.After(now.Add(-opts.Grace)):
			act.Kind, act.Reason = Keep, fmt.Sprintf("locked since %s; the grace period is not over", lockedSince.UTC().Format(time.RFC3339))
		default:
			act.Kind, act.Reason = Delete, fmt.Sprintf("no live token, locked since %s", lockedSince.UTC().Format(time.RFC3339))
		}
		if !opts.DryRun {
			switch act.Kind {
			case Lock:
				err = a.LockClient(ctx, id, true)
				if err == nil && report.Locked == 0 {
					err = checkLockTime(ctx, a, id, now, report, opts)
				}
			case Delete:
				err = a.DeleteClient(ctx, id)
			}
			if err != nil {
				return report, fmt.Errorf("lifecycle: %s client %s: %w", act.Kind, id, err)
			}
		}
		record(report, act, opts)
	}
	return report, nil
}

// checkLockTime reads back the first client a run locks: the grace period
// counts from modifiedAt, so Authlete must update it when it locks a
// client. If it did not, the run goes on and the report says so.
func checkLockTime(ctx context.Context, a Authlete, id string, lockedAt time.Time, report *Report, opts Options) error {
	c, err := a.GetClient(ctx, id)
	if err != nil {
		return err
	}
	const skew = time.Minute // between this machine's clock and Authlete's
	if time.UnixMilli(c.ModifiedAt).Before(lockedAt.Add(-skew)) {
		w := fmt.Sprintf("Authlete did not update modifiedAt of client %s when locking it (%s): the grace period counts from modifiedAt, so locked clients may be deleted before it is over; run without -grace, or check the lock flag API of your Authlete version",
			id, time.UnixMilli(c.ModifiedAt).UTC().Format(time.RFC3339))
		report.Warnings = append(report.Warnings, w)
		opts.Logger.Warn("lifecycle: " + w)
	}
	return nil
}

// hasLiveToken reports whether the client holds an access or refresh
// token that has not expired.
func hasLiveToken(ctx context.Context, a Authlete, id string, now time.Time, pageSize int) (bool, error) {
	for start := 0; ; start += pageSize {
		page, err := a.ListTokens(ctx, id, start, start+pageSize)
		if err != nil {
			return false, err
		}
		for _, t := range page.AccessTokens {
			if t.Live(now.UnixMilli()) {
				return true, nil
			}
		}
		if len(page.AccessTokens) < pageSize || start+pageSize >= page.TotalCount {
			return false, nil
		}
	}
}

func record(report *Report, act Action, opts Options) {
	report.Actions = append(report.Actions, act)
	level := slog.LevelInfo
	switch act.Kind {
	case Keep:
		report.Kept++
		level = slog.LevelDebug
	case Lock:
		report.Locked++
	case Delete:
		report.Deleted++
	}
	opts.Logger.LogAttrs(context.Background(), level, "lifecycle: "+act.Kind,
		slog.String("client_id", act.ClientID), slog.String("client_name", act.ClientName),
		slog.Time("created_at", act.CreatedAt), slog.String("reason", act.Reason), slog.Bool("dry_run", act.DryRun))
	if opts.OnAction != nil {
		opts.OnAction(act)
	}
}
