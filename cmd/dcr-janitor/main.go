// Command dcr-janitor removes stale dynamically registered clients from an
// Authlete service (package lifecycle): it keeps every client with a live
// token, and removes the clients older than -older-than that have none:
// locked first when -grace is set (and deleted by a later run once locked
// that long, by the record of -lock-file), deleted at once when it is not.
//
//	AUTHLETE_BASE_URL=... AUTHLETE_SERVICE_APIKEY=... AUTHLETE_SERVICE_ACCESSTOKEN=... \
//	    go run ./cmd/dcr-janitor -older-than 720h -grace 168h -lock-file /var/lib/dcr-janitor/locks.json -dry-run
//
// Run it from cron or a Kubernetes CronJob, one run at a time: a run holds
// an exclusive lock on -lock-file+".lock" (flock(2)) and a second run
// refuses to start. Each decision is printed as a line; the command exits
// with status 1 when Authlete fails, or on SIGTERM or SIGINT (the call in
// flight is abandoned, the record written), after printing what was done
// until then.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/internal/authleteenv"
	"github.com/dcr-go/dcr/internal/cli"
	"github.com/dcr-go/dcr/lifecycle"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		// A second signal kills at once.
		signal.Stop(signals)
		cancel(fmt.Errorf("stopped by signal %v", s))
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, authlete.ConfigFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, "dcr-janitor:", err)
		os.Exit(1)
	}
}

const usage = `Usage: dcr-janitor [flags]

Removes stale dynamically registered clients (clientSource
DYNAMIC_REGISTRATION) from an Authlete service. It keeps every client with a
live access or refresh token, and never touches static, CIMD or OpenID
Federation clients, nor a client someone else locked.

Without -dry-run it CHANGES the service: every dynamically registered client
older than -older-than without a live token is DELETED AT ONCE, or, with
-grace, locked now (its lock written to -lock-file before it is set) and
deleted by a later run once locked that long. A client it locked that holds
a live token again is unlocked. Run it with -dry-run first.

One run at a time: a run holds an exclusive lock on -lock-file.lock, and
another run on the same -lock-file refuses to start, changing nothing. A
dry run takes no lock. On SIGTERM or SIGINT the run abandons the call in
flight, writes its record and prints what it did.

Environment:
` + authleteenv.Usage + `
Exit status: 0 when the run went through, 1 when Authlete failed, a client
was skipped, another run holds the record, the run was stopped by a
signal, or the arguments are wrong.

Flags:
`

// run parses args, runs the clean-up against the service cfg names, and
// writes each decision and a summary to out.
func run(ctx context.Context, args []string, out io.Writer, cfg authlete.Config) error {
	s, err := parseArgs(args, out)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	opts := s.opts
	client, err := authlete.New(cfg)
	if err != nil {
		return err
	}
	if opts.Locks != nil && !opts.DryRun {
		// Two runs on one record would each write their own over the
		// other's, and strand the clients the other locked.
		release, err := hold(s.lockFile + ".lock")
		if errors.Is(err, errHeld) {
			return fmt.Errorf("another run holds %s.lock: nothing was done (one run at a time; with a Kubernetes CronJob, set concurrencyPolicy: Forbid)", s.lockFile)
		}
		if err != nil {
			return fmt.Errorf("locking %s.lock for the run: %w", s.lockFile, err)
		}
		defer release()
	}
	opts.Logger = slog.New(slog.DiscardHandler) // the decisions are printed below
	opts.OnAction = func(a lifecycle.Action) {
		if a.Kind != lifecycle.Keep || s.verbose {
			fmt.Fprintln(out, a)
		}
	}
	report, err := lifecycle.Run(ctx, client.Admin(), opts)
	printSummary(out, report, opts.DryRun, s.olderThan)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%v: %w", cause, err)
	}
	if err == nil && report.Skipped > 0 {
		err = fmt.Errorf("%d client(s) skipped: Authlete failed for them", report.Skipped)
	}
	return err
}

// settings are what the command line asks for.
type settings struct {
	opts     lifecycle.Options
	lockFile string
	verbose  bool
	// olderThan is -older-than as given (opts.OlderThan is
	// lifecycle.AnyAge for 0).
	olderThan time.Duration
}

// parseArgs reads the command line; flag.ErrHelp after -h, errUsage or
// what is wrong for wrong arguments.
func parseArgs(args []string, out io.Writer) (settings, error) {
	var s settings
	flags := cli.FlagSet("dcr-janitor", usage, out)
	opts := &s.opts
	flags.DurationVar(&opts.OlderThan, "older-than", 30*24*time.Hour, "the TTL: only clients registered longer ago are removed (0: any age)")
	flags.DurationVar(&opts.Grace, "grace", 0, "lock stale clients first and delete them once locked this long (0: delete at once); needs -lock-file")
	flags.StringVar(&s.lockFile, "lock-file", "", "the JSON file that records the clients this janitor locked (keep it where every run finds it)")
	flags.BoolVar(&opts.DryRun, "dry-run", false, "print what would be done and change nothing")
	flags.IntVar(&opts.PageSize, "page-size", lifecycle.DefaultPageSize, "clients and tokens asked of Authlete at a time")
	flags.IntVar(&opts.Concurrency, "concurrency", lifecycle.DefaultConcurrency, "clients checked at once (each check is an Authlete call; HTTP 429 stops the run)")
	flags.BoolVar(&s.verbose, "v", false, "also print the clients kept")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return s, err
		}
		return s, errUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(out, "dcr-janitor: unexpected argument %q; flags go before, as -name=value (see -h)\n", flags.Arg(0))
		return s, errUsage
	}
	if opts.OlderThan < 0 || opts.Grace < 0 || opts.Concurrency < 1 || opts.PageSize < 1 {
		return s, fmt.Errorf("-older-than and -grace must not be negative, -concurrency and -page-size must be at least 1")
	}
	if s.lockFile != "" {
		opts.Locks = lifecycle.FileLocks(s.lockFile)
	}
	if opts.Grace > 0 && opts.Locks == nil {
		return s, fmt.Errorf("-grace needs -lock-file: the janitor deletes only the clients it locked itself")
	}
	s.olderThan = opts.OlderThan
	if s.olderThan == 0 {
		opts.OlderThan = lifecycle.AnyAge // -older-than 0, given: lifecycle's zero would be 30 days
	}
	return s, nil
}

// printSummary writes the warnings of report, and a line that counts what
// it saw and did.
func printSummary(out io.Writer, report *lifecycle.Report, dryRun bool, olderThan time.Duration) {
	for _, w := range report.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	mode := ""
	if dryRun {
		mode = " (dry run: nothing changed)"
	}
	gone := ""
	if report.Gone > 0 {
		gone = fmt.Sprintf(", gone %d", report.Gone) // deleted by someone else meanwhile
	}
	fmt.Fprintf(out, "%d clients, %d dynamically registered, %d older than %v: kept %d, locked %d, unlocked %d, deleted %d%s, skipped %d%s\n",
		report.Clients, report.Dynamic, report.Stale, olderThan, report.Kept, report.Locked, report.Unlocked, report.Deleted, gone, report.Skipped, mode)
}

var (
	// errUsage is a wrong invocation; the flag package has said what is
	// wrong.
	errUsage = errors.New("wrong arguments (see -h)")
	// errHeld: another run holds the record.
	errHeld = errors.New("held by another run")
)
