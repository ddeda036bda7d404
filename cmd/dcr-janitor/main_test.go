package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func TestJanitor(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	c := srv.Client(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		resp, err := c.Register(ctx, &authlete.Request{JSON: `{"client_name":"Claude"}`})
		require.NoError(t, err)
		var info struct {
			ID string `json:"client_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &info))
		ids = append(ids, info.ID)
	}
	_, err := authletetest.CreateToken(ctx, srv.Config(), ids[0], "alice", []string{"mcp"})
	require.NoError(t, err)

	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-dry-run"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "would delete "+ids[1])
	assert.Contains(t, out.String(), "would delete "+ids[2])
	assert.NotContains(t, out.String(), ids[0])
	assert.Contains(t, out.String(), "3 clients, 3 dynamically registered, 3 older than 0s: kept 1, locked 0, unlocked 0, deleted 2, skipped 0 (dry run: nothing changed)")
	assert.Equal(t, 3, srv.Clients())

	out.Reset()
	locks := t.TempDir() + "/locks.json"
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-grace", "1h", "-lock-file", locks, "-v"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "keep "+ids[0]+` ("Claude", created `)
	assert.Contains(t, out.String(), "lock "+ids[1])
	assert.Contains(t, out.String(), "kept 1, locked 2, unlocked 0, deleted 0, skipped 0\n")
	record, err := os.ReadFile(locks)
	require.NoError(t, err)
	assert.Contains(t, string(record), ids[1], "the lock is recorded")

	out.Reset()
	srv.Inject(authletetest.Fault{Op: "client/get/list", Status: 401})
	err = run(ctx, []string{"-older-than", "0"}, &out, srv.Config())
	assert.ErrorContains(t, err, "HTTP 401")
	assert.Contains(t, out.String(), "0 clients")

	assert.Error(t, run(ctx, []string{"-grace", "-1h"}, &out, srv.Config()))
	assert.Error(t, run(ctx, nil, &out, authlete.Config{}), "no Authlete configuration")
}

// TestJanitorInvocation: -h exits 0 and says what a run does and reads;
// a mistyped invocation is an error that changes nothing.
func TestJanitorInvocation(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-h"}, &out, authlete.Config{}))
	for _, want := range []string{"DELETED AT ONCE", "-dry-run", "-lock-file", "-concurrency", "AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_ACCESSTOKEN", "AUTHLETE_SERVICE_APISECRET"} {
		assert.Contains(t, out.String(), want)
	}
	srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	for _, args := range [][]string{
		{"-dry-run", "yes"}, // a stray argument: everything after it would be ignored
		{"-older-than", "0", "--", "-dry-run"},
		{"-dryrun"},
		{"-grace", "1h"}, // without -lock-file
		{"-concurrency", "0"},
		{"-grace", "1h", "-lock-file", t.TempDir() + "/missing/locks.json"}, // the run's lock cannot be taken
	} {
		out.Reset()
		assert.Error(t, run(ctx, args, &out, srv.Config()), "%v", args)
		assert.Zero(t, srv.Calls("client/get/list"), "%v changed nothing", args)
	}
	assert.Equal(t, 1, srv.Clients())
}

// TestJanitorSkippedClientFails: a skipped client makes the run's exit
// status 1, after the others were done.
func TestJanitorSkippedClientFails(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	}
	srv.Inject(authletetest.Fault{Op: "auth/token/get/list", Status: 500, Times: 1})
	var out strings.Builder
	err := run(ctx, []string{"-older-than", "0", "-concurrency", "1"}, &out, srv.Config())
	assert.ErrorContains(t, err, "1 client(s) skipped")
	assert.Contains(t, out.String(), "deleted 1, skipped 1")
	assert.Contains(t, out.String(), "warning: client ")
	assert.Equal(t, 1, srv.Clients())
}

// TestJanitorClientGone: a client deleted by someone else when the janitor
// locks it (HTTP 404) is counted gone, and the run succeeds.
func TestJanitorClientGone(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		srv.Client(t).Register(ctx, &authlete.Request{JSON: `{}`})
	}
	srv.Inject(authletetest.Fault{Op: "client/lock_flag/update", Status: 404, Times: 1})
	var out strings.Builder
	require.NoError(t, run(ctx, []string{"-older-than", "0", "-grace", "1h", "-lock-file", t.TempDir() + "/locks.json"}, &out, srv.Config()))
	assert.Contains(t, out.String(), "kept 0, locked 1, unlocked 0, deleted 0, gone 1, skipped 0\n")
	assert.NotContains(t, out.String(), "warning")
}

// TestJanitorSIGTERM runs the command, and sends it SIGTERM while
// Authlete holds its third lock call: the command abandons the call (which
// Authlete carries out all the same), writes its record, prints its report
// and exits with status 1; every client locked at Authlete is in the
// record.
func TestJanitorSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dcr-janitor")
	build, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", build)

	exited, started := make(chan struct{}), make(chan *os.Process, 1)
	var mu sync.Mutex
	n := 0
	var a *authleteWithHook
	a = newAuthleteWithHook(t, func(w http.ResponseWriter, r *http.Request, id string) bool {
		mu.Lock()
		n++
		third := n == 3
		mu.Unlock()
		if !third {
			return false
		}
		process := <-started
		assert.NoError(t, process.Signal(syscall.SIGTERM))
		select {
		case <-r.Context().Done(): // the command gave up on the call
		case <-exited:
		}
		// Authlete got the call: it locks the client all the same.
		a.em.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.Background()))
		return true
	})
	a.register(t, 10)
	locks := filepath.Join(dir, "locks.json")
	var stdout, stderr strings.Builder
	cmd := exec.Command(bin, "-older-than", "0", "-grace", "1h", "-lock-file", locks, "-concurrency", "1")
	cmd.Env = append(os.Environ(), "AUTHLETE_BASE_URL="+a.srv.URL, "AUTHLETE_API_VERSION=V3", "AUTHLETE_SERVICE_APIKEY="+authletetest.DefaultServiceID,
		"AUTHLETE_SERVICE_ACCESSTOKEN="+authletetest.DefaultAccessToken, "AUTHLETE_SERVICE_APISECRET=")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	started <- cmd.Process
	err = cmd.Wait()
	close(exited)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, stderr.String(), "stopped by signal terminated")
	assert.Contains(t, stdout.String(), "10 clients, 10 dynamically registered, 10 older than 0s: kept 0, locked 2,", "the report")
	assert.Len(t, a.lockedAtAuthlete(t), 3)
	assert.ElementsMatch(t, a.lockedAtAuthlete(t), recorded(t, locks), "no client locked at Authlete is missing from the record")
}
