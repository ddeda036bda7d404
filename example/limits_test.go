package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
)

// limited serves the registration limits in memory on a handler that
// answers 201, the client's address being the peer's.
func limited(t *testing.T, perAddress int, networks string, global int) (http.Handler, *metrics) {
	t.Helper()
	var nets []networkLimit
	if networks != "" {
		var err error
		nets, err = parseNetworkLimits(networks)
		require.NoError(t, err)
	}
	m := newMetrics()
	limit := registrationLimits(perAddress, nets, global, nil, m)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	return middleware.ClientIPFromRemoteAddr(limit(ok)), m
}

func post(h http.Handler, addr string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/register", nil)
	r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(addr), 4000).String()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRegistrationLimits(t *testing.T) {
	waitOutsideMinuteEdge()
	h, m := limited(t, 2, "10.0.0.0/8=5,10.1.0.0/16=3,2001:db8::/32=4", 0)
	count := func(addrs ...string) (created int) {
		for _, a := range addrs {
			if post(h, a).Code == http.StatusCreated {
				created++
			}
		}
		return created
	}
	// Each address outside the networks has its own budget of 2.
	assert.Equal(t, 2, count("192.0.2.1", "192.0.2.1", "192.0.2.1"))
	assert.Equal(t, 2, count("192.0.2.2", "192.0.2.2", "192.0.2.2"))
	// The most specific network wins, and its addresses share its budget.
	assert.Equal(t, 3, count("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"))
	assert.Equal(t, 5, count("10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.4", "10.2.0.5", "10.2.0.6"))
	// IPv6, and an IPv4 address that arrives IPv4-mapped.
	assert.Equal(t, 4, count("2001:db8::1", "2001:db8::2", "2001:db8:1::3", "2001:db8:2::4", "2001:db8::5"))
	h, _ = limited(t, 2, "10.0.0.0/8=5", 0)
	assert.Equal(t, 5, func() (n int) {
		for i := 1; i <= 6; i++ {
			if post(h, "::ffff:10.9.9."+strconv.Itoa(i)).Code == http.StatusCreated {
				n++
			}
		}
		return n
	}())

	refused := post(h, "10.3.3.3")
	assert.Equal(t, http.StatusTooManyRequests, refused.Code)
	assert.NotEmpty(t, refused.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"temporarily_unavailable","error_description":"Too many registrations from this network; try again later."}`, refused.Body.String())
	body := scrape(t, m)
	assert.Contains(t, body, `dcr_rate_limited_total{limit="register"} 2`)
	assert.Contains(t, body, `dcr_rate_limited_total{limit="register_network"} 3`)
}

func TestGlobalRegistrationLimit(t *testing.T) {
	waitOutsideMinuteEdge()
	h, m := limited(t, 2, "10.0.0.0/8=100", 5)
	created := 0
	for i := 1; i <= 10; i++ {
		if post(h, fmt.Sprintf("192.0.2.%d", i)).Code == http.StatusCreated {
			created++
		}
	}
	assert.Equal(t, 5, created, "five across all addresses")
	// An address over its own budget does not spend the global one.
	h, _ = limited(t, 1, "", 3)
	for i := 0; i < 5; i++ {
		post(h, "192.0.2.1")
	}
	assert.Equal(t, http.StatusCreated, post(h, "192.0.2.2").Code)
	assert.Equal(t, http.StatusCreated, post(h, "192.0.2.3").Code)
	refused := post(h, "192.0.2.4")
	assert.Equal(t, http.StatusTooManyRequests, refused.Code)
	assert.Contains(t, refused.Body.String(), "Too many registrations;")
	assert.Contains(t, scrape(t, m), `dcr_rate_limited_total{limit="register_global"} 5`)
}

func TestNoRegistrationLimits(t *testing.T) {
	assert.Nil(t, registrationLimits(0, nil, 0, nil, newMetrics()))
}

func scrape(t *testing.T, m *metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

// TestBlackBoxSharedEgress: behind a trusted proxy, two replicas sharing
// Redis give a hosted client's network its own budget (100 registrations
// in a minute from its addresses) while another address is limited at the
// default 60, and a network's addresses share its budget.
func TestBlackBoxSharedEgress(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	emulator := authletetest.NewServer(t, authletetest.Options{})
	env := append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_REDIS_URL="+redisSrv.url(),
		"DCR_TRUSTED_PROXIES=127.0.0.1/32", "DCR_RATE_LIMIT_NETWORKS=160.79.104.0/21=600,198.51.100.0/24=5")
	a, pa := startExampleBinary(t, env, "")
	b, _ := startExampleBinary(t, env, "")
	from := func(i int, addr string) response {
		return send(t, "POST", []string{a, b}[i%2]+"/register", "", `{}`, "X-Forwarded-For", addr)
	}
	for i := 0; i < 100; i++ {
		r := from(i, []string{"160.79.104.5", "160.79.111.250"}[i/90]) // a hosted broker's egress: one address, mostly
		require.Equal(t, 201, r.status, "registration %d from claude.ai's network: %s", i, r.raw)
	}
	statuses := map[int]int{}
	var last response
	for i := 0; i < 61; i++ {
		last = from(i, "203.0.113.7")
		statuses[last.status]++
	}
	assert.Equal(t, map[int]int{201: 60, 429: 1}, statuses, "another address keeps the default budget")
	assert.NotEmpty(t, last.header.Get("Retry-After"))
	statuses = map[int]int{}
	for i := 0; i < 7; i++ {
		statuses[from(i, fmt.Sprintf("198.51.100.%d", 10+i)).status]++
	}
	assert.Equal(t, map[int]int{201: 5, 429: 2}, statuses, "a network's addresses share its budget")
	metrics := send(t, "GET", a+"/metrics", "", "").raw + send(t, "GET", b+"/metrics", "", "").raw
	assert.Regexp(t, `dcr_rate_limited_total\{limit="register_network"\} [12]`, metrics)
	assert.NotContains(t, pa.out.String(), "rate limit store failed")
}

// TestBlackBoxGlobalCeiling: the global ceiling holds across two replicas
// sharing Redis, whatever the addresses.
func TestBlackBoxGlobalCeiling(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	emulator := authletetest.NewServer(t, authletetest.Options{})
	const ceiling = 20
	env := append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_REDIS_URL="+redisSrv.url(),
		"DCR_TRUSTED_PROXIES=127.0.0.1/32", "DCR_RATE_LIMIT_GLOBAL="+strconv.Itoa(ceiling))
	a, _ := startExampleBinary(t, env, "")
	b, _ := startExampleBinary(t, env, "")
	start := time.Now()
	created, refused := 0, 0
	for i := 0; i < 2*ceiling; i++ {
		r := send(t, "POST", []string{a, b}[i%2]+"/register", "", `{}`, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", 1+i))
		switch r.status {
		case 201:
			created++
		case 429:
			refused++
			assert.NotEmpty(t, r.header.Get("Retry-After"))
			assert.Equal(t, "temporarily_unavailable", r.body["error"])
		default:
			t.Fatalf("registration %d: %d %s", i, r.status, r.raw)
		}
	}
	// GCRA refills one registration every 60/ceiling seconds.
	refilled := int(time.Since(start) / (time.Minute / ceiling))
	assert.GreaterOrEqual(t, created, ceiling)
	assert.LessOrEqual(t, created, ceiling+refilled, "created within the ceiling across both replicas")
	assert.Equal(t, 2*ceiling, created+refused)
	metrics := send(t, "GET", a+"/metrics", "", "").raw
	assert.Regexp(t, regexp.MustCompile(`dcr_rate_limited_total\{limit="register_global"\} [1-9]`), metrics)
}
