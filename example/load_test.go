package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr/authletetest"
)

// TestLoad drives the example (handler, middleware, Authlete client) on
// the standalone emulator, a separate process, with 256 concurrent
// clients on 127.0.0.1: each does full life cycles (register, read,
// update, delete, read again) in two rounds of 10,240 requests, every
// answer checked. It reports p50/p99 latency and the heap after each
// round, and fails on any wrong or lost answer or a heap that keeps
// growing; the example's log is printed on failure.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const clients, cyclesPerClient, rounds = 256, 8, 2
	port := freePort(t)
	emu := start(t, binary(t, "github.com/dcr-go/dcr/cmd/authlete-emulator", false), nil, "-addr", "127.0.0.1:"+port, "-max-clients", "-1")
	emu.waitFor(t, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	base, logs := startExample(t, map[string]string{"DCR_RATE_LIMIT": "0", "DCR_MANAGEMENT_RATE_LIMIT": "0",
		"AUTHLETE_BASE_URL": "http://127.0.0.1:" + port, "AUTHLETE_SERVICE_APIKEY": authletetest.DefaultServiceID,
		"AUTHLETE_SERVICE_ACCESSTOKEN": authletetest.DefaultAccessToken})
	t.Cleanup(func() {
		if t.Failed() {
			printFailures(t, logs)
		}
	})
	transport := &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}

	do := func(method, url, token, body string, want int) (map[string]any, time.Duration, error) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		if err != nil || resp.StatusCode != want {
			return nil, elapsed, fmt.Errorf("%s %s: %d %s (%v)", method, url, resp.StatusCode, data, err)
		}
		var m map[string]any
		if len(data) > 0 {
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, elapsed, fmt.Errorf("%s %s: %d, not JSON: %q", method, url, resp.StatusCode, data)
			}
		}
		return m, elapsed, nil
	}

	// cycle is one client's life; it checks what each answer says.
	cycle := func(n int) ([]time.Duration, error) {
		name := fmt.Sprintf("load-%d", n)
		reg, d1, err := do("POST", base+"/register", "", `{"client_name":"`+name+`","redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`, 201)
		if err != nil {
			return nil, err
		}
		id, _ := reg["client_id"].(string)
		uri, _ := reg["registration_client_uri"].(string)
		token, _ := reg["registration_access_token"].(string)
		if id == "" || token == "" || !strings.HasSuffix(uri, "/register/"+id) || reg["client_name"] != name {
			return nil, fmt.Errorf("registration answered %v", reg)
		}
		uri = base + "/register/" + id // the emulator's management endpoint is its default
		got, d2, err := do("GET", uri, token, "", 200)
		if err != nil {
			return nil, err
		}
		if got["client_id"] != id || got["client_name"] != name {
			return nil, fmt.Errorf("read of %s answered %v", id, got)
		}
		upd, d3, err := do("PUT", uri, token, `{"client_id":"`+id+`","client_name":"`+name+`-renamed","redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`, 200)
		if err != nil {
			return nil, err
		}
		if upd["client_name"] != name+"-renamed" {
			return nil, fmt.Errorf("update of %s answered %v", id, upd)
		}
		if _, _, err := do("DELETE", uri, token, "", 204); err != nil {
			return nil, err
		}
		gone, d5, err := do("GET", uri, token, "", 401)
		if err != nil {
			return nil, err
		}
		if gone["error"] != "invalid_token" {
			return nil, fmt.Errorf("read after delete of %s answered %v", id, gone)
		}
		return []time.Duration{d1, d2, d3, d5}, nil
	}

	var heaps []uint64
	for round := 1; round <= rounds; round++ {
		var mu sync.Mutex
		var latencies []time.Duration
		var failures []error
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				var errs []error
				for i := 0; i < cyclesPerClient; i++ {
					d, err := cycle(c*cyclesPerClient + i)
					if err != nil {
						errs = append(errs, err)
					}
					mine = append(mine, d...)
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				failures = append(failures, errs...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		if len(failures) > 0 {
			t.Fatalf("round %d: %d failed life cycles, the first: %v", round, len(failures), failures[:min(5, len(failures))])
		}
		slices.Sort(latencies)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heaps = append(heaps, ms.HeapAlloc)
		requests := clients * cyclesPerClient * 5
		t.Logf("round %d: %d requests in %v (%.0f/s), 0 failed, p50 %v, p99 %v, max %v, heap after GC %.1f MiB, goroutines %d",
			round, requests, elapsed.Round(time.Millisecond), float64(requests)/elapsed.Seconds(),
			latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1],
			float64(ms.HeapAlloc)/(1<<20), runtime.NumGoroutine())
	}
	assert.Less(t, heaps[rounds-1], heaps[0]+16<<20, "the heap keeps growing: %v", heaps)
}
