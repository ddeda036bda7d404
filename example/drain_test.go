package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
)

// gatedAuthlete is an Authlete emulator whose registrations wait at a gate
// until the test opens it: an Authlete as slow as the test needs, without
// a sleep. Like Authlete, it creates the client even if the caller has
// gone away meanwhile (an orphan). arrived receives one value per
// registration that reached the gate.
type gatedAuthlete struct {
	*authletetest.Emulator
	gate    chan struct{}
	once    sync.Once
	arrived chan struct{}
}

func newGatedAuthlete(t *testing.T) (*gatedAuthlete, *httptest.Server) {
	g := &gatedAuthlete{Emulator: authletetest.New(authletetest.Options{}), gate: make(chan struct{}), arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.open) // before the server closes: no request stays at the gate
	return g, srv
}

func (g *gatedAuthlete) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/client/registration") {
		g.arrived <- struct{}{}
		<-g.gate
	}
	g.Emulator.ServeHTTP(w, r)
}

func (g *gatedAuthlete) open() { g.once.Do(func() { close(g.gate) }) }

// waitArrivals waits until n more registrations have reached the gate.
func (g *gatedAuthlete) waitArrivals(t *testing.T, n int, p *process) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-g.arrived:
		case <-p.done:
			t.Fatalf("the example ended (%v) with %d of %d registrations at Authlete:\n%s", p.err, i, n, p.out.String())
		case <-timeout:
			t.Fatalf("%d of %d registrations reached Authlete", i, n)
		}
	}
}

// answer is what a client of the example got.
type answer struct {
	status   int
	clientID string
	header   http.Header
	err      error
}

// registerAsync sends a registration on a connection of its own, as curl
// does, and delivers the answer to out.
func registerAsync(base string, out chan<- answer) {
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Post(base+"/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var body struct {
			ClientID string `json:"client_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		out <- answer{status: resp.StatusCode, clientID: body.ClientID, header: resp.Header, err: err}
	}()
}

var (
	drainingRE   = regexp.MustCompile(`msg="(draining): /readyz answers 503`)
	drainOverRE  = regexp.MustCompile(`msg="(drain period over): no new connections`)
	drainedRE    = regexp.MustCompile(`msg="(drained): the last request is answered"`)
	metricsURLRE = regexp.MustCompile(`serving DCR endpoints.* metrics=(http://\S+/metrics)`)
)

// drainCase is a deployment of the example that must drain: extra
// settings, and what to check during the drain and after the exit.
type drainCase struct {
	name string
	env  func(t *testing.T) []string
	// duringDrain runs while the registrations wait at Authlete, after
	// the signal; drained after the example has exited, with the answers.
	duringDrain func(t *testing.T, p *process)
	drained     func(t *testing.T, answers []answer)
}

// TestBlackBoxDrain: the built example in front of an Authlete that holds
// every registration back, 6 registrations in flight, then SIGTERM.
// /readyz turns 503 at once; 2 registrations sent during the drain period
// are served; then the server stops accepting; once Authlete answers,
// every one of the 8 gets 201 with a client_id, Authlete has exactly the
// 8 clients answered (no orphan), and the example exits 0 after logging
// its last answer. Alone, with the Redis limiter, and with traces
// exported over OTLP: each closes after the last answer.
func TestBlackBoxDrain(t *testing.T) {
	t.Parallel()
	var receiver *otlpReceiver
	for _, tc := range []drainCase{
		{name: "metrics listener", env: func(t *testing.T) []string { return []string{"DCR_METRICS_ADDR=127.0.0.1:0"} },
			duringDrain: func(t *testing.T, p *process) {
				metrics := send(t, "GET", p.waitFor(t, metricsURLRE, time.Second), "", "")
				assert.Equal(t, 200, metrics.status, "the metrics listener serves during the drain")
			}},
		{name: "redis limiter", env: func(t *testing.T) []string {
			return []string{"DCR_REDIS_URL=" + startRedis(t).url(), "DCR_RATE_LIMIT=100"}
		}, drained: func(t *testing.T, answers []answer) {
			for _, a := range answers {
				assert.NotEmpty(t, a.header.Get("X-RateLimit-Remaining"), "counted in Redis, the drain's requests too")
			}
		}},
		{name: "tracing", env: func(t *testing.T) []string {
			receiver = &otlpReceiver{arrived: make(chan struct{}, 1)}
			otlp := httptest.NewServer(receiver)
			t.Cleanup(otlp.Close)
			// Only the flush at exit exports: the spans of the last
			// answers must reach the receiver.
			return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp.URL, "OTEL_BSP_SCHEDULE_DELAY=600000"}
		}, drained: func(t *testing.T, _ []answer) {
			servers := 0
			for _, s := range receiver.spans() {
				if s.name == "POST /register" && s.kind == "SPAN_KIND_SERVER" {
					servers++
				}
			}
			assert.Equal(t, 8, servers, "the server span of every registration was exported at exit")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runDrain(t, tc)
		})
	}
}

func runDrain(t *testing.T, tc drainCase) {
	gated, authleteSrv := newGatedAuthlete(t)
	env := append(emulatorEnv(authleteSrv.URL, authletetest.DefaultAccessToken), "DCR_SHUTDOWN_DRAIN=5s")
	env = append(env, tc.env(t)...)
	base, p := startExampleBinary(t, env, "")
	require.Equal(t, 200, send(t, "GET", base+"/readyz", "", "").status)

	answers := make(chan answer, 8)
	for i := 0; i < 6; i++ {
		registerAsync(base, answers)
	}
	gated.waitArrivals(t, 6, p)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, drainingRE, 10*time.Second)

	ready := send(t, "GET", base+"/readyz", "", "")
	assert.Equal(t, 503, ready.status, "not ready from the signal on")
	assert.Equal(t, "draining", ready.body["status"])
	assert.Equal(t, 200, send(t, "GET", base+"/healthz", "", "").status, "alive while draining")
	for i := 0; i < 2; i++ {
		registerAsync(base, answers)
	}
	gated.waitArrivals(t, 2, p) // accepted during the drain period
	if tc.duringDrain != nil {
		tc.duringDrain(t, p)
	}

	// After the drain period the server stops accepting connections, and
	// waits for the 8 registrations still in flight.
	p.waitFor(t, drainOverRE, 30*time.Second)
	refused := false
	for deadline := time.Now().Add(10 * time.Second); !refused && time.Now().Before(deadline); {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if refused = err != nil; !refused {
			conn.Close()
			time.Sleep(10 * time.Millisecond)
		}
	}
	assert.True(t, refused, "no new connection after the drain period")
	select {
	case <-p.done:
		t.Fatalf("the example exited (%v) under its requests in flight:\n%s", p.err, p.out.String())
	default:
	}

	gated.open()
	ids := map[string]bool{}
	var all []answer
	for i := 0; i < 8; i++ {
		a := <-answers
		all = append(all, a)
		if assert.NoError(t, a.err, "answer %d", i) && assert.Equal(t, 201, a.status, "answer %d", i) {
			assert.NotEmpty(t, a.clientID)
			ids[a.clientID] = true
		}
	}
	assert.Len(t, ids, 8, "8 distinct clients answered")
	p.wait(t, 60*time.Second)
	assert.NoError(t, p.err, "exit status 0")
	assert.Equal(t, len(ids), gated.Clients(), "Authlete created exactly the clients answered: no orphan")

	p.waitFor(t, drainedRE, time.Second)
	log := p.out.String()
	assert.NotContains(t, log, "rate limit store failed")
	last := strings.LastIndex(log, `msg=request method=POST route=/register path=/register`)
	assert.Less(t, last, strings.Index(log, "msg=\"drained:"), "logged after the last answer")
	assert.Equal(t, 8, strings.Count(log, `msg=request method=POST route=/register path=/register query="" status=201`))
	// The 2 registrations, /readyz and /healthz.
	assert.Contains(t, log, "served_during_drain=4", "the drain counted the requests it accepted")
	if tc.drained != nil {
		tc.drained(t, all)
	}
}

// TestBlackBoxDrainEmbeddedEmulator: during the drain period, requests that
// need the embedded emulator are still served, and their connections are
// closed after the answer, so that a client's next request goes through
// the load balancer again.
func TestBlackBoxDrainEmbeddedEmulator(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, []string{"DCR_SHUTDOWN_DRAIN=3s"}, "")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, drainingRE, 10*time.Second)
	resp, err := http.Post(base+"/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	require.NoError(t, err)
	var reg response
	reg.status = resp.StatusCode
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&reg.body))
	resp.Body.Close()
	require.Equal(t, 201, reg.status, reg.body)
	assert.True(t, resp.Close, "Connection: close while draining: the client's next request goes through the load balancer")
	read := send(t, "GET", reg.body["registration_client_uri"].(string), reg.body["registration_access_token"].(string), "")
	assert.Equal(t, 200, read.status, "the embedded emulator still answers")
	p.wait(t, 60*time.Second)
	assert.NoError(t, p.err, "exit status 0")
	p.waitFor(t, drainedRE, time.Second)
}

// TestBlackBoxSecondSignal: a second signal during the drain exits at
// once, with a non-zero status, even with a request in flight.
func TestBlackBoxSecondSignal(t *testing.T) {
	t.Parallel()
	gated, authleteSrv := newGatedAuthlete(t)
	base, p := startExampleBinary(t, append(emulatorEnv(authleteSrv.URL, authletetest.DefaultAccessToken), "DCR_SHUTDOWN_DRAIN=10m"), "")
	answers := make(chan answer, 1)
	registerAsync(base, answers)
	gated.waitArrivals(t, 1, p)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.waitFor(t, drainingRE, 10*time.Second)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	p.wait(t, 30*time.Second) // not the 10 minutes of the drain
	assert.Error(t, p.err, "a non-zero exit status")
	assert.Contains(t, p.out.String(), "second signal: exiting without waiting")
	assert.Error(t, (<-answers).err, "the request in flight is cut")
}
