package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

// authleteWithHook serves em on 127.0.0.1, and calls onLock first with
// each lock call (client/lock_flag/update with clientLocked true), its
// body read; onLock answers the call itself when it returns true.
type authleteWithHook struct {
	em     *authletetest.Emulator
	srv    *httptest.Server
	onLock func(w http.ResponseWriter, r *http.Request, id string) bool
}

func newAuthleteWithHook(t *testing.T, onLock func(w http.ResponseWriter, r *http.Request, id string) bool) *authleteWithHook {
	a := &authleteWithHook{em: authletetest.New(authletetest.Options{MaxClients: -1}), onLock: onLock}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/client/lock_flag/update/") && a.onLock != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				ClientLocked bool `json:"clientLocked"`
			}
			if json.Unmarshal(body, &req) == nil && req.ClientLocked && a.onLock(w, r, path.Base(r.URL.Path)) {
				return
			}
		}
		a.em.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authleteWithHook) config() authlete.Config {
	return authlete.Config{BaseURL: a.srv.URL, APIVersion: authlete.V3,
		ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken}
}

func (a *authleteWithHook) client(t testing.TB) *authlete.Client {
	c, err := authlete.New(a.config())
	require.NoError(t, err)
	return c
}

// register registers n clients.
func (a *authleteWithHook) register(t testing.TB, n int) {
	c := a.client(t)
	for range n {
		_, err := c.Register(context.Background(), &authlete.Request{JSON: `{"client_name":"Claude"}`})
		require.NoError(t, err)
	}
}

// lockedAtAuthlete lists the clients locked at Authlete.
func (a *authleteWithHook) lockedAtAuthlete(t testing.TB) []string {
	page, err := a.client(t).Admin().ListClients(context.Background(), 0, 10000)
	require.NoError(t, err)
	var ids []string
	for _, c := range page.Clients {
		if c.Locked {
			ids = append(ids, strconv.FormatInt(c.ClientID, 10))
		}
	}
	return ids
}

func recorded(t testing.TB, file string) []string {
	locks, err := lifecycle.FileLocks(file).Load()
	require.NoError(t, err)
	var ids []string
	for id := range locks {
		ids = append(ids, id)
	}
	return ids
}

// TestJanitorOneRunAtATime: while a run holds the record, a second run on
// it refuses to start and asks nothing of Authlete; once the first is
// done, the next goes.
func TestJanitorOneRunAtATime(t *testing.T) {
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a := newAuthleteWithHook(t, func(w http.ResponseWriter, r *http.Request, id string) bool {
		once.Do(func() { close(inFlight); <-release })
		return false
	})
	a.register(t, 3)
	locks := filepath.Join(t.TempDir(), "locks.json")
	args := []string{"-older-than", "0", "-grace", "1h", "-lock-file", locks, "-concurrency", "1"}
	first := make(chan error, 1)
	var firstOut strings.Builder
	go func() { first <- run(context.Background(), args, &firstOut, a.config()) }()
	<-inFlight

	lists := a.em.Calls("client/get/list")
	var out strings.Builder
	err := run(context.Background(), args, &out, a.config())
	assert.ErrorContains(t, err, "another run holds "+locks+".lock: nothing was done")
	assert.Equal(t, lists, a.em.Calls("client/get/list"), "the second run asked nothing of Authlete")
	var dry strings.Builder
	assert.NoError(t, run(context.Background(), append(args, "-dry-run"), &dry, a.config()), "a dry run takes no lock")

	close(release)
	require.NoError(t, <-first)
	assert.Contains(t, firstOut.String(), "locked 3,")
	assert.ElementsMatch(t, a.lockedAtAuthlete(t), recorded(t, locks))
	out.Reset()
	require.NoError(t, run(context.Background(), args, &out, a.config()), "the lock ends with the run")
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

// TestJanitorRunsAtTheSameTime is invariant 5 over the command: runs on
// one record, started at the same time, over an Authlete that fails some
// calls (refusals, 404, 429, its own failures, a lock set and then
// answered with 502) and a run stopped during a lock call: at each lock
// call that reaches Authlete the record on disk names the client, and in
// the end every client locked at Authlete is in the record.
func TestJanitorRunsAtTheSameTime(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "runs")
		if err != nil {
			rt.Fatal(err)
		}
		locks := filepath.Join(dir, "locks.json")
		lockPlan := rapid.SliceOfN(rapid.SampledFrom([]string{"pass", "pass", "set then 502", "stop the run"}), 0, 10).Draw(rt, "lock calls")
		var mu sync.Mutex
		var violations []string
		var cancels []context.CancelFunc
		var a *authleteWithHook
		a = newAuthleteWithHook(t, func(w http.ResponseWriter, r *http.Request, id string) bool {
			onDisk, err := lifecycle.FileLocks(locks).Load()
			mu.Lock()
			defer mu.Unlock()
			if _, named := onDisk[id]; err != nil || !named {
				violations = append(violations, "lock of "+id+" called before the record names it")
			}
			step := "pass"
			if len(lockPlan) > 0 {
				step, lockPlan = lockPlan[0], lockPlan[1:]
			}
			switch step {
			case "set then 502":
				a.em.ServeHTTP(httptest.NewRecorder(), r)
				http.Error(w, `{"resultCode":"A001101","resultMessage":"bad gateway"}`, http.StatusBadGateway)
				return true
			case "stop the run":
				for _, cancel := range cancels {
					cancel()
				}
			}
			return false
		})
		defer a.srv.Close()
		a.register(t, rapid.IntRange(1, 12).Draw(rt, "clients"))
		for i, op := range rapid.SliceOfN(rapid.SampledFrom([]string{"client/lock_flag/update", "client/get/list", "auth/token/get/list", "client/delete"}), 0, 4).Draw(rt, "fault ops") {
			a.em.Inject(authletetest.Fault{Op: op, Times: rapid.IntRange(1, 3).Draw(rt, "times "+strconv.Itoa(i)),
				Status: rapid.SampledFrom([]int{400, 404, 429, 500}).Draw(rt, "status "+strconv.Itoa(i))})
		}
		runs := rapid.IntRange(2, 3).Draw(rt, "runs")
		args := []string{"-older-than", "0", "-grace", "1h", "-lock-file", locks,
			"-concurrency", strconv.Itoa(rapid.IntRange(1, 4).Draw(rt, "concurrency")), "-page-size", strconv.Itoa(rapid.IntRange(1, 10).Draw(rt, "page size"))}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range runs {
			ctx, cancel := context.WithCancel(context.Background())
			mu.Lock()
			cancels = append(cancels, cancel)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cancel()
				<-start
				run(ctx, args, io.Discard, a.config())
			}()
		}
		close(start)
		wg.Wait()
		a.em.ClearFaults()
		mu.Lock()
		defer mu.Unlock()
		if len(violations) > 0 {
			rt.Fatalf("%v", violations)
		}
		onDisk := recorded(t, locks)
		for _, id := range a.lockedAtAuthlete(t) {
			if !slices.Contains(onDisk, id) {
				rt.Fatalf("client %s is locked at Authlete, and not in the record %v", id, onDisk)
			}
		}
	})
}
