package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
)

// The example as deployed: behind a reverse proxy, with a Redis a few
// milliseconds away, in a container without its variables.

// delayProxy forwards TCP connections to target, delaying each chunk by
// delay in each direction without serialising them: a network of that
// latency, not of that bandwidth.
func delayProxy(t testing.TB, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go delayCopy(up, c, delay)
			go delayCopy(c, up, delay)
		}
	}()
	return ln.Addr().String()
}

func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	chunks := make(chan chunk, 4096)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range chunks {
	}
}

// reverseProxy is a stock httputil reverse proxy to target whose
// connections leave from 127.0.0.2, as a load balancer's would from its
// own address; it appends the client's address to X-Forwarded-For.
func reverseProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// sendFrom sends a registration to url from the local address ip, with
// X-Forwarded-For xff if not empty, and returns the status.
func sendFrom(t *testing.T, ip, url, xff string) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestBlackBoxTrustedProxies: behind a trusted proxy each client has its
// own limit, and the log names it; a client that reaches the example
// directly cannot buy fresh quota with a made-up X-Forwarded-For. Clients
// connect from addresses of 127.0.0.0/8; the proxy from 127.0.0.2.
func TestBlackBoxTrustedProxies(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, []string{"DCR_TRUSTED_PROXIES=127.0.0.2/32, 127.0.0.20", "DCR_RATE_LIMIT=3"}, "")
	proxy := reverseProxy(t, base) + "/register"
	waitOutsideMinuteEdge() // the in-memory limit counts in windows of a minute

	for _, client := range []string{"127.0.1.10", "127.0.1.11", "127.0.1.12"} {
		var statuses []int
		for i := 0; i < 4; i++ {
			statuses = append(statuses, sendFrom(t, client, proxy, ""))
		}
		assert.Equal(t, []int{201, 201, 201, 429}, statuses, "client %s behind the proxy has its own limit", client)
	}
	// A spoofed entry to the left of the client's own address buys nothing.
	assert.Equal(t, 429, sendFrom(t, "127.0.1.10", proxy, "203.0.113.99"))
	// A trusted hop (a CDN at 127.0.0.20) is skipped: the client is the
	// address it forwarded.
	var viaCDN []int
	for i := 0; i < 4; i++ {
		viaCDN = append(viaCDN, sendFrom(t, "127.0.0.20", proxy, "203.0.113.7"))
	}
	assert.Equal(t, []int{201, 201, 201, 429}, viaCDN, "the client behind two trusted hops")

	var direct []int
	for i := 0; i < 4; i++ {
		direct = append(direct, sendFrom(t, "127.0.1.30", base+"/register", fmt.Sprintf("198.51.100.%d", i)))
	}
	assert.Equal(t, []int{201, 201, 201, 429}, direct, "an untrusted peer's X-Forwarded-For is ignored")

	log := p.out.String()
	assert.Regexp(t, `msg=request method=POST route=/register path=/register .*status=201 .*client_ip=127\.0\.1\.11 op=register client_id=\d+ action=CREATED`, log,
		"one line per request names the client and what the handler did")
	assert.NotContains(t, log, `msg="dcr: request"`, "no second line per request")
	assert.Regexp(t, `client_ip=203\.0\.113\.7\b`, log)
	assert.Regexp(t, `client_ip=127\.0\.1\.30\b`, log, "the direct client is the peer")
	assert.NotContains(t, log, "client_ip=198.51.100.")
	assert.NotContains(t, log, "client_ip=203.0.113.99")
	assert.NotContains(t, log, "client_ip=127.0.0.2 ")
}

// TestBlackBoxNoSilentEmulator: without AUTHLETE_* variables, the example
// refuses to start where its in-memory emulator would lose clients
// silently, unless DCR_EMBEDDED_EMULATOR asks for it.
func TestBlackBoxNoSilentEmulator(t *testing.T) {
	t.Parallel()
	bin := binary(t, ".", false)
	clean := []string{"AUTHLETE_BASE_URL=", "AUTHLETE_SERVICE_APIKEY=", "AUTHLETE_SERVICE_ACCESSTOKEN=", "DCR_EMBEDDED_EMULATOR=", "DCR_PUBLIC_URL=", "DCR_REDIS_URL="}
	for _, tc := range []struct {
		addr string
		env  []string
	}{
		{"0.0.0.0:0", nil}, // a container
		{"127.0.0.1:0", []string{"DCR_PUBLIC_URL=https://dcr.test.example"}}, // behind a proxy on the same host
	} {
		p := start(t, bin, append(clean, tc.env...), "-addr", tc.addr)
		p.wait(t, 60*time.Second)
		require.Error(t, p.err, "%s %v must not start", tc.addr, tc.env)
		out := p.out.String()
		for _, name := range []string{"AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_APIKEY", "AUTHLETE_SERVICE_ACCESSTOKEN", "DCR_EMBEDDED_EMULATOR=true"} {
			assert.Contains(t, out, name)
		}
		assert.NotContains(t, out, "serving DCR endpoints")
	}
	for _, bad := range []string{"https://dcr.test.example?", "https://dcr.test.example/#", "https://dcr.test.example/?a=b", "dcr.test.example"} {
		p := start(t, bin, append(clean, "DCR_PUBLIC_URL="+bad, "DCR_EMBEDDED_EMULATOR=true"), "-addr", "127.0.0.1:0")
		p.wait(t, 60*time.Second)
		assert.Error(t, p.err, bad)
		assert.Contains(t, p.out.String(), "DCR_PUBLIC_URL", bad)
	}
	// Asked for explicitly, it starts, and says so.
	base, p := startExampleBinary(t, []string{"DCR_EMBEDDED_EMULATOR=true", "DCR_PUBLIC_URL=https://dcr.test.example"}, "")
	assert.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status)
	assert.Contains(t, p.out.String(), "embedded Authlete emulator")
}

// TestBlackBoxOperationsEndpoints: with DCR_METRICS_ADDR, metrics are served
// there only; without it, /metrics, /healthz and /readyz are not readable
// cross-origin, while the DCR endpoints are.
func TestBlackBoxOperationsEndpoints(t *testing.T) {
	t.Parallel()
	metricsAddr := "127.0.0.1:" + freePort(t)
	base, _ := startExampleBinary(t, []string{"DCR_METRICS_ADDR=" + metricsAddr}, "")
	require.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status)
	private := send(t, "GET", "http://"+metricsAddr+"/metrics", "", "")
	assert.Equal(t, 200, private.status)
	assert.Contains(t, private.raw, `dcr_requests_total{error="",op="register",status="201"} 1`)
	assert.Equal(t, 404, send(t, "GET", base+"/metrics", "", "").status, "not on the public address")

	base, _ = startExampleBinary(t, nil, "")
	const origin = "https://evil.example"
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		got := send(t, "GET", base+path, "", "", "Origin", origin)
		assert.Equal(t, 200, got.status, path)
		assert.Empty(t, got.header.Get("Access-Control-Allow-Origin"), "%s is not readable cross-origin", path)
		pre := send(t, "OPTIONS", base+path, "", "", "Origin", origin, "Access-Control-Request-Method", "GET")
		assert.Empty(t, pre.header.Get("Access-Control-Allow-Origin"), "%s preflight", path)
	}
	reg := send(t, "POST", base+"/register", "", `{}`, "Origin", origin)
	assert.Equal(t, "*", reg.header.Get("Access-Control-Allow-Origin"))
	exposed := strings.Split(reg.header.Get("Access-Control-Expose-Headers"), ", ")
	for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Retry-After", "Www-Authenticate"} {
		assert.True(t, slices.ContainsFunc(exposed, func(e string) bool { return strings.EqualFold(e, h) }), "%s exposed: %v", h, exposed)
	}
}

// TestBlackBoxCustomAuthMiddleware: a gateway or middleware that uses Basic
// credentials in front of open registration does not make registration
// fail; client configuration still needs its bearer token.
func TestBlackBoxCustomAuthMiddleware(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, nil, "")
	basic := "Basic " + "Z2F0ZXdheTpzM2NyM3Q=" // gateway:s3cr3t
	req, _ := http.NewRequest("POST", base+"/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basic)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode, string(body))

	req, _ = http.NewRequest("GET", base+"/register/12345", nil)
	req.Header.Set("Authorization", basic)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode, "client configuration takes a bearer token only")
}

// TestBlackBoxExpensiveNameBeforeToken: an unauthenticated update with a
// 63 KB client name that NFKD expands 18-fold is refused at once.
func TestBlackBoxExpensiveNameBeforeToken(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, []string{"DCR_MANAGEMENT_RATE_LIMIT=0"}, "")
	name := strings.Repeat("\ufdfa", 63<<10/3)
	got := send(t, "PUT", base+"/register/12345", "made-up-token", `{"client_id":"12345","client_name":"`+name+`"}`)
	assert.Equal(t, 400, got.status)
	assert.Equal(t, "invalid_client_metadata", got.body["error"])
	assert.Contains(t, got.body["error_description"], "longer than 8192 bytes", "the handler's own limit, before any policy")
	assert.Less(t, len(got.raw), 512, "the answer does not echo the name")

	// Under the handler's limit, the name policy's own.
	name = strings.Repeat("\ufdfa", 8<<10/3)
	got = send(t, "PUT", base+"/register/12345", "made-up-token", `{"client_id":"12345","client_name":"`+name+`"}`)
	assert.Equal(t, 400, got.status)
	assert.Contains(t, got.body["error_description"], "longer than 256 bytes")
}

// TestBlackBoxRedisRefusesEveryCommand: a Redis whose password is wrong is
// visible, and registrations go on, counted in memory.
func TestBlackBoxRedisRefusesEveryCommand(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t, "--requirepass", "right-password")
	base, p := startExampleBinary(t, []string{"DCR_REDIS_URL=redis://:wrong-password@127.0.0.1:" + redisSrv.port + "/0"}, "")
	assert.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status, "memory takes over")
	ready := send(t, "GET", base+"/readyz", "", "")
	assert.Equal(t, 200, ready.status, "the server serves; Redis is a detail")
	assert.Contains(t, ready.body["rate_limit_store"], "failing")
	assert.NotContains(t, ready.raw, "WRONGPASS", "Redis's error stays off the public /readyz")
	assert.Contains(t, p.out.String(), "WRONGPASS", "and goes to the log")

	errorsTotal := regexp.MustCompile(`dcr_rate_limit_store_errors_total\{limit="register"\} (\d+)`)
	count := func() string {
		m := errorsTotal.FindStringSubmatch(send(t, "GET", base+"/metrics", "", "").raw)
		if m == nil {
			return "0"
		}
		return m[1]
	}
	first := count()
	// Once the store has rested (storeRetry), the next request asks Redis
	// again, and the counter goes on.
	deadline := time.Now().Add(20 * time.Second)
	for count() == first && time.Now().Before(deadline) {
		send(t, "POST", base+"/register", "", `{}`)
		time.Sleep(100 * time.Millisecond)
	}
	assert.NotEqual(t, first, count(), "the error counter keeps counting")
	assert.Contains(t, send(t, "GET", base+"/metrics", "", "").raw, "dcr_rate_limit_store_up 0")
	for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
		assert.True(t, strings.HasPrefix(line, "time="), "every line goes through slog: %q", line)
	}
}

// TestBlackBoxRedisFarAway: with Redis 10 ms away each way, 64 clients from
// as many addresses get every registration answered; and a well-behaved
// client is not held up by another address flooding the limit with 256
// connections. The numbers are logged; BenchmarkRegistrationsRedisFarAway
// measures the rate.
func TestBlackBoxRedisFarAway(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	far := delayProxy(t, "127.0.0.1:"+redisSrv.port, 10*time.Millisecond)
	base, p := startExampleBinary(t, []string{"DCR_REDIS_URL=redis://" + far + "/0", "DCR_TRUSTED_PROXIES=127.0.0.1/32", "DCR_RATE_LIMIT=20"}, "")
	defer func() {
		if t.Failed() {
			t.Log(p.out.String())
		}
	}()

	rate, statuses := registerConcurrently(t, base, 64, 10, "10.9")
	t.Logf("Redis 10 ms away each way: %.0f registrations/s at 64 clients", rate)
	assert.Equal(t, map[int]int{201: 640}, statuses, "every request answered, none limited")

	baseline := latencies(t, base, "192.0.2.1", 15)
	ctx, cancel := context.WithCancel(context.Background())
	var flood sync.WaitGroup
	var flooded sync.Map
	for i := 0; i < 256; i++ {
		flood.Add(1)
		go func() {
			defer flood.Done()
			c := &http.Client{Transport: &http.Transport{}}
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/register", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", "198.51.100.66")
				if resp, err := c.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					flooded.Store(resp.StatusCode, true)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // the flood is under way
	during := latencies(t, base, "192.0.2.2", 15)
	cancel()
	flood.Wait()
	_, got429 := flooded.Load(429)
	assert.True(t, got429, "the flood was limited")
	t.Logf("p50 of a well-behaved client: %v alone, %v while another address floods with 256 connections", median(baseline), median(during))
	assert.Less(t, median(during), 2*time.Second, "the flood's 429s do not queue the other client behind them")
}

// registerConcurrently runs clients goroutines that each register n clients,
// each goroutine from its own address under prefix, and returns the rate
// and the statuses.
func registerConcurrently(t testing.TB, base string, clients, n int, prefix string) (float64, map[int]int) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				req, _ := http.NewRequest("POST", base+"/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("%s.%d.%d", prefix, c/250, c%250+1))
				status := 0
				if resp, err := transport.RoundTrip(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(clients*n) / time.Since(start).Seconds(), statuses
}

// latencies registers n clients one after the other from addr.
func latencies(t *testing.T, base, addr string, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		got := send(t, "POST", base+"/register", "", `{}`, "X-Forwarded-For", addr)
		out = append(out, time.Since(start))
		require.Equal(t, 201, got.status, got.raw)
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestBlackBoxPlainHTTPAuthlete: an http AUTHLETE_BASE_URL off loopback
// gets a warning at start-up (0.0.0.0 is not loopback by name, though on
// Linux it reaches this machine: the test stays on it).
func TestBlackBoxPlainHTTPAuthlete(t *testing.T) {
	t.Parallel()
	emulator := authletetest.NewServer(t, authletetest.Options{})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(emulator.URL, "http://"))
	_, far := startExampleBinary(t, emulatorEnv("http://0.0.0.0:"+port, authletetest.DefaultAccessToken), "")
	assert.Contains(t, far.out.String(), "AUTHLETE_BASE_URL is http on a host that is not loopback")
	_, near := startExampleBinary(t, emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "")
	assert.NotContains(t, near.out.String(), "AUTHLETE_BASE_URL is http")
}

// BenchmarkRegistrationsRedisFarAway measures registrations/s of one
// replica at 64 concurrent clients, each from its own address, with the
// shared rate limit in a real redis-server behind a TCP delay of
// DCR_BENCH_REDIS_DELAY (default 10ms) each way. Compare with
// -bench 'RedisFarAway/memory' (no Redis) in the same run.
func BenchmarkRegistrationsRedisFarAway(b *testing.B) {
	delay := 10 * time.Millisecond
	if v := os.Getenv("DCR_BENCH_REDIS_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(b, err)
		delay = d
	}
	for _, store := range []string{"memory", "redis"} {
		b.Run(store, func(b *testing.B) {
			env := []string{"DCR_TRUSTED_PROXIES=127.0.0.1/32", "DCR_RATE_LIMIT=1000000"}
			if store == "redis" {
				redisSrv := startRedis(b)
				env = append(env, "DCR_REDIS_URL=redis://"+delayProxy(b, "127.0.0.1:"+redisSrv.port, delay)+"/0")
			}
			base, _ := startExampleBinary(b, env, "")
			b.ResetTimer()
			rate, statuses := registerConcurrently(b, base, 64, max(1, b.N/64), "10.8")
			b.StopTimer()
			b.ReportMetric(rate, "registrations/s")
			if statuses[201] != 64*max(1, b.N/64) {
				b.Fatalf("statuses: %v", statuses)
			}
		})
	}
}

// TestBlackBoxReadinessRidesOutOneFailure: one failed check of Authlete
// leaves the replica ready; three in a row make it not ready; the first
// check that passes makes it ready again. Checks run every 5 s.
func TestBlackBoxReadinessRidesOutOneFailure(t *testing.T) {
	t.Parallel()
	emu := authletetest.NewServer(t, authletetest.Options{})
	base, p := startExampleBinary(t, emulatorEnv(emu.URL, authletetest.DefaultAccessToken), "")
	assert.Equal(t, 200, send(t, "GET", base+"/readyz", "", "").status)

	emu.Inject(authletetest.Fault{Op: "get", Status: 500, Times: 1})
	p.waitFor(t, regexp.MustCompile(`(Authlete did not answer a readiness check; still ready)`), 30*time.Second)
	assert.Equal(t, 200, send(t, "GET", base+"/readyz", "", "").status, "one failure")

	emu.Inject(authletetest.Fault{Op: "get", Status: 500})
	p.waitFor(t, regexp.MustCompile(`(not ready: Authlete does not answer.* failures_in_a_row=3)`), 60*time.Second)
	ready := send(t, "GET", base+"/readyz", "", "")
	assert.Equal(t, 503, ready.status, "three in a row")
	assert.Equal(t, "not ready", ready.body["status"])

	emu.ClearFaults()
	p.waitFor(t, regexp.MustCompile(`(?s)not ready.*(ready: Authlete accepts the credentials)`), 30*time.Second)
	assert.Equal(t, 200, send(t, "GET", base+"/readyz", "", "").status)
}

// TestBlackBoxURIRules: the example refuses script URIs and SSRF-shaped
// URIs by default, and info URIs off the redirect host when asked.
func TestBlackBoxURIRules(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, nil, "")
	for body, want := range map[string]string{
		`{"redirect_uris":["javascript:alert(1)"]}`:                                                        "invalid_redirect_uri",
		`{"redirect_uris":["https://app.example/cb"],"client_uri":"data:text/html,x"}`:                     "invalid_client_metadata",
		`{"redirect_uris":["https://app.example/cb"],"jwks_uri":"https://169.254.169.254/latest/"}`:        "invalid_client_metadata",
		`{"redirect_uris":["https://app.example/cb"],"sector_identifier_uri":"http://app.example/s.json"}`: "invalid_client_metadata",
		`{"redirect_uris":["https://app.example/cb"],"logo_uri":"http://cdn.example/l.png"}`:               "invalid_client_metadata",
	} {
		got := send(t, "POST", base+"/register", "", body)
		assert.Equal(t, 400, got.status, body)
		assert.Equal(t, want, got.body["error"], body)
	}
	ok := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"],"jwks_uri":"https://app.example/jwks","logo_uri":"https://cdn.example/l.png"}`)
	assert.Equal(t, 201, ok.status, ok.raw)

	strict, _ := startExampleBinary(t, []string{"DCR_INFO_URIS_ON_REDIRECT_HOST=true"}, "")
	off := send(t, "POST", strict+"/register", "", `{"redirect_uris":["https://app.example/cb"],"logo_uri":"https://cdn.example/l.png"}`)
	assert.Equal(t, 400, off.status, off.raw)
	on := send(t, "POST", strict+"/register", "", `{"redirect_uris":["https://app.example/cb"],"logo_uri":"https://app.example/l.png"}`)
	assert.Equal(t, 201, on.status, on.raw)
}

// TestBlackBoxMetadataPolicy: the example applies the metadata policy file
// of DCR_METADATA_POLICY (the one docs/policies.md shows), refuses to start
// with one that contradicts itself, and its doctor finds the embedded
// service's CIMD policy the same.
func TestBlackBoxMetadataPolicy(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, []string{"DCR_METADATA_POLICY=testdata/mcp-metadata-policy.json"}, "")
	for _, tc := range []struct {
		body, member string
		want         any
	}{
		{`{"redirect_uris":["http://localhost:6274/cb"],"scope":"mcp admin"}`, "scope", "mcp"},
		{`{"redirect_uris":["http://localhost:6274/cb"],"scope":"admin"}`, "scope", "mcp"}, // not no scope, which asks for any
		{`{"redirect_uris":["http://localhost:6274/cb"],"scope":"admin openid"}`, "scope", "mcp"},
		{`{"redirect_uris":["http://localhost:6274/cb"]}`, "scope", "mcp"},
		{`{"redirect_uris":["http://localhost:6274/cb"]}`, "grant_types", []any{"authorization_code", "refresh_token"}},
		{`{"redirect_uris":["http://localhost:6274/cb"]}`, "token_endpoint_auth_method", "none"},
		{`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, "token_endpoint_auth_method", "client_secret_basic"},
	} {
		reg := send(t, "POST", base+"/register", "", tc.body)
		require.Equal(t, 201, reg.status, reg.raw)
		assert.Equal(t, tc.want, reg.body[tc.member], tc.body)
		stored := send(t, "GET", reg.body["registration_client_uri"].(string), reg.body["registration_access_token"].(string), "")
		assert.Equal(t, tc.want, stored.body[tc.member], "what Authlete holds: %s", tc.body)
	}
	for body, member := range map[string]string{
		`{"redirect_uris":["https://app.example/cb"],"grant_types":["client_credentials"],"response_types":[]}`: `"grant_types" violates the subset_of policy`,
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}`:           `"token_endpoint_auth_method" violates the one_of policy`,
	} {
		reg := send(t, "POST", base+"/register", "", body)
		assert.Equal(t, 400, reg.status, body)
		assert.Equal(t, "invalid_client_metadata", reg.body["error"])
		assert.Contains(t, reg.body["error_description"], member)
	}
	assert.NotContains(t, p.out.String(), "cimdMetadataPolicy", "one policy for both kinds of client")

	bad := t.TempDir() + "/bad.json"
	require.NoError(t, os.WriteFile(bad, []byte(`{"grant_types":{"subset_of":["authorization_code"],"superset_of":["refresh_token"]}}`), 0o644))
	refused := start(t, binary(t, ".", false), []string{"AUTHLETE_BASE_URL=", "DCR_METADATA_POLICY=" + bad}, "-addr", "127.0.0.1:0")
	refused.wait(t, 60*time.Second)
	assert.Error(t, refused.err)
	assert.Contains(t, refused.out.String(), `member \"grant_types\", operator \"superset_of\"`)
}

// TestBlackBoxLookAlikeNames: the probe's look-alikes of reserved names,
// refused through the built example.
func TestBlackBoxLookAlikeNames(t *testing.T) {
	t.Parallel()
	base, _ := startExampleBinary(t, nil, "")
	for _, name := range []string{"\u202eedualC", "Cla\u115fude", "\u3164Claude", "Clau\uffa0de", "Cłaude", "ᴄlaude", "C|aude", "ᏟᏞᎪUᎠᎬ", "Claսde", "ØpenAI", "ChαtGPT"} {
		body, _ := json.Marshal(map[string]any{"client_name": name, "redirect_uris": []string{"https://evil.example/cb"}})
		got := send(t, "POST", base+"/register", "", string(body))
		assert.Equal(t, 400, got.status, "%q: %s", name, got.raw)
		assert.Equal(t, "invalid_client_metadata", got.body["error"], name)
	}
	deviceCode := send(t, "POST", base+"/register", "", `{"client_name":"Claude","grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`)
	assert.Equal(t, 400, deviceCode.status, "a reserved name without redirect URIs: %s", deviceCode.raw)
	real := send(t, "POST", base+"/register", "", `{"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"]}`)
	assert.Equal(t, 201, real.status, real.raw)
}
