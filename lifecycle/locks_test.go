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
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

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
