//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

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
