// Command dcr-janitor removes stale dynamically registered clients from an
// Authlete service (package lifecycle): it keeps every client with a live
// token, and removes the clients older than -older-than that have none:
// locked first when -grace is set (and deleted by a later run once locked
// that long), deleted at once when it is not.
//
//	AUTHLETE_BASE_URL=... AUTHLETE_SERVICE_APIKEY=... AUTHLETE_SERVICE_ACCESSTOKEN=... \
//	    go run ./cmd/dcr-janitor -older-than 720h -grace 168h -dry-run
//
// Run it from cron or a Kubernetes CronJob, one run at a time. Each
// decision is printed as a line; the command exits with status 1 when
// Authlete fails, after printing what was done until then.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/lifecycle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, authlete.ConfigFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, "dcr-janitor:", err)
		os.Exit(1)
	}
}

// run parses args, runs the clean-up against the service cfg names, and
// writes each decision and a summary to out.
func run(ctx context.Context, args []string, out io.Writer, cfg authlete.Config) error {
	flags := flag.NewFlagSet("dcr-janitor", flag.ContinueOnError)
	flags.SetOutput(out)
	var opts lifecycle.Options
	flags.DurationVar(&opts.OlderThan, "older-than", 30*24*time.Hour, "the TTL: only clients registered longer ago are removed (0: any age)")
	flags.DurationVar(&opts.Grace, "grace", 0, "lock stale clients first and delete them once locked this long (0: delete at once)")
	flags.BoolVar(&opts.DryRun, "dry-run", false, "print what would be done and change nothing")
	flags.IntVar(&opts.PageSize, "page-size", lifecycle.DefaultPageSize, "clients and tokens asked of Authlete at a time")
	verbose := flags.Bool("v", false, "also print the clients kept")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if opts.OlderThan < 0 || opts.Grace < 0 {
		return fmt.Errorf("-older-than and -grace must not be negative")
	}
	client, err := authlete.New(cfg)
	if err != nil {
		return err
	}
	opts.Logger = slog.New(slog.DiscardHandler) // the decisions are printed below
	opts.OnAction = func(a lifecycle.Action) {
		if a.Kind != lifecycle.Keep || *verbose {
			fmt.Fprintln(out, a)
		}
	}
	report, err := lifecycle.Run(ctx, client, opts)
	for _, w := range report.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	mode := ""
	if opts.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(out, "%d clients, %d dynamically registered, %d older than %v: kept %d, locked %d, deleted %d%s\n",
		report.Clients, report.Dynamic, report.Stale, opts.OlderThan, report.Kept, report.Locked, report.Deleted, mode)
	return err
}
