// Command dcr-iat manages the initial access tokens of the example
// server, in the Redis of DCR_REDIS_URL that the replicas share
// (DCR_IAT_STORE=redis):
//
//	dcr-iat issue -uses 10 -expires 168h -note "partner X"   # prints "ID TOKEN" last
//	dcr-iat list                                             # IDs, uses left, expiry; never a token
//	dcr-iat revoke ID
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dcr-go/dcr/example/internal/redisurl"
	"github.com/dcr-go/dcr/iat"
	"github.com/dcr-go/dcr/iatredis"
)

const usage = `Usage:
  dcr-iat issue -uses N -expires DURATION [-note TEXT]
  dcr-iat list
  dcr-iat revoke ID

Manages initial access tokens (RFC 7591 §3) in the Redis that the example's
replicas share when DCR_IAT_STORE=redis. issue prints "ID TOKEN" as its last
line: the token is shown once and only its hash is kept. list prints each
token's ID, uses left, expiry and note, never a token. revoke ends a token
at once.

Environment:
  DCR_REDIS_URL  redis://[:password@]host:port/db (or rediss://): the store

`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv("DCR_REDIS_URL")); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dcr-iat:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string, out io.Writer, redisURL string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		if len(args) == 0 {
			return errors.New("a command is needed: issue, list or revoke")
		}
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	flags := flag.NewFlagSet("dcr-iat "+cmd, flag.ContinueOnError)
	flags.SetOutput(out)
	uses := flags.Int("uses", 0, "registrations the token allows (issue)")
	expires := flags.Duration("expires", 0, "how long the token works, e.g. 168h (issue)")
	note := flags.String("note", "", "what the token is for (issue)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	switch {
	case cmd != "issue" && cmd != "list" && cmd != "revoke":
		return fmt.Errorf("unknown command %q: issue, list or revoke (see -h)", cmd)
	case cmd == "revoke" && flags.NArg() != 1:
		return errors.New("revoke needs the ID of one token (see list)")
	case cmd != "revoke" && flags.NArg() != 0:
		return fmt.Errorf("unexpected arguments %q; flags go before, as -name=value (see -h)", flags.Args())
	case cmd == "issue" && (*uses < 1 || *expires <= 0):
		return errors.New("issue needs -uses N (1 or more) and -expires DURATION, e.g. -uses 10 -expires 168h")
	case redisURL == "":
		return errors.New("DCR_REDIS_URL is not set: it names the Redis the replicas share")
	}
	opts, err := redisurl.Parse(redisURL)
	if err != nil {
		return fmt.Errorf("DCR_REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	store := iatredis.New(rdb)
	switch cmd {
	case "issue":
		id, token, err := store.Issue(ctx, *uses, *expires, *note)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "issued: %s until %s; the token is shown once, keep it secret\n", usesText(*uses), time.Now().Add(*expires).UTC().Format(time.RFC3339))
		fmt.Fprintf(out, "%s %s\n", id, token)
	case "list":
		tokens, err := store.List(ctx)
		if err != nil {
			return err
		}
		return printTokens(out, tokens)
	case "revoke":
		if err := store.Revoke(ctx, flags.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintln(out, "revoked", flags.Arg(0))
	}
	return nil
}

// printTokens prints tokens as list does, one row each: a note that is
// not printable text (a line break, a tab, a bidi override) is quoted, so
// that it cannot pass for rows or columns of its own.
func printTokens(out io.Writer, tokens []iat.Token) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSES LEFT\tEXPIRES\tNOTE")
	for _, t := range tokens {
		note := t.Note
		if strings.ContainsFunc(note, func(r rune) bool { return !strconv.IsPrint(r) }) {
			note = strconv.Quote(note)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", t.ID, t.UsesLeft, t.Expires.UTC().Format(time.RFC3339), note)
	}
	return w.Flush()
}

// usesText is n uses in words: "1 use", "10 uses".
func usesText(n int) string {
	if n == 1 {
		return "1 use"
	}
	return strconv.Itoa(n) + " uses"
}
