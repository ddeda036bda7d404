package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestLoad drives the example stack (handler, middleware, Authlete client
// and embedded emulator) with 256 concurrent clients on 127.0.0.1: a fixed
// number of register → read → delete cycles in three rounds, every request
// checked. It reports p50/p99 latency and the heap after each round, and
// fails on any failed request or a heap that keeps growing.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const clients, cyclesPerClient, rounds = 256, 4, 3
	base, logs := startExample(t, map[string]string{"DCR_RATE_LIMIT": "0", "DCR_MANAGEMENT_RATE_LIMIT": "0"})
	t.Cleanup(func() {
		if t.Failed() {
			printFailures(t, logs)
		}
	})
	transport := &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

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
		json.Unmarshal(data, &m)
		return m, elapsed, nil
	}

	var heaps []uint64
	for round := 1; round <= rounds; round++ {
		var mu sync.Mutex
		var latencies []time.Duration
		var failures []error
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				var errs []error
				for i := 0; i < cyclesPerClient; i++ {
					reg, d1, err := do("POST", base+"/register", "", `{"client_name":"load","redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`, 201)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					uri, token := reg["registration_client_uri"].(string), reg["registration_access_token"].(string)
					_, d2, err2 := do("GET", uri, token, "", 200)
					_, d3, err3 := do("DELETE", uri, token, "", 204)
					mine = append(mine, d1, d2, d3)
					for _, e := range []error{err2, err3} {
						if e != nil {
							errs = append(errs, e)
						}
					}
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				failures = append(failures, errs...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("round %d: %d failed requests, the first: %v", round, len(failures), failures[:min(5, len(failures))])
		}
		slices.Sort(latencies)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heaps = append(heaps, ms.HeapAlloc)
		t.Logf("round %d: %d requests, 0 failed, p50 %v, p99 %v, max %v, heap after GC %.1f MiB, goroutines %d",
			round, len(latencies), latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1],
			float64(ms.HeapAlloc)/(1<<20), runtime.NumGoroutine())
	}
	assert.Less(t, heaps[rounds-1], heaps[0]+16<<20, "the heap keeps growing: %v", heaps)
}
