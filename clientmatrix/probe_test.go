package clientmatrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestStallingBody: a server that sends its headers and then stalls the
// body costs one timeout, as one that never answers does, not one per
// request.
func TestStallingBody(t *testing.T) {
	release := make(chan struct{})
	srv := &counted{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"client_id":`))
		w.(http.Flusher).Flush()
		<-release
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer close(release)
	r := run(t, Options{Endpoint: ts.URL + "/register", HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	assert.True(t, r.Failed())
	assert.Len(t, srv.requests(), 1, "one request: the first one's body never came")
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, Unreachable, c.Outcome, c.Name)
		}
	}
}

// TestRegistrationNoAnswer: a registration the server reads and then
// drops the connection of (after creating a client, maybe) is listed as a
// possible leftover, in the table and in JSON.
func TestRegistrationNoAnswer(t *testing.T) {
	srv := &counted{serve: func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	r := run(t, Options{Endpoint: ts.URL + "/register", Only: []string{"zed", checkCreated}})
	const want = "registration of zed got no answer: a client may exist"
	require.Contains(t, r.Leftovers, Leftover{Possible: true, Reason: want})
	var table strings.Builder
	require.NoError(t, r.WriteTable(&table))
	assert.Contains(t, table.String(), "\n  "+want+"\n")
	data, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(data), `{"client_id":"","reason":"`+want+`","possible":true}`)
}

// TestInvariantNothingRegisteredUnlisted: whatever the server drops,
// refuses or holds, and wherever the run is stopped, every client the
// server still holds at the end is listed: by client_id, or, when its
// registration got no answer, as a possible leftover.
func TestInvariantNothingRegisteredUnlisted(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		const (
			serve  = "serve"
			drop   = "drop"   // served, then the connection closed: the answer is lost
			refuse = "refuse" // 500, nothing done
			stop   = "stop"   // served, then held while the run is stopped (the first one)
		)
		plan := rapid.SliceOfN(rapid.SampledFrom([]string{serve, serve, serve, drop, refuse, stop}), 1, 40).Draw(rt, "plan")
		fake := newFakeDCR(faults{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		n := 0
		lost := map[string]bool{} // the clients whose registration's answer was lost
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			what := serve
			if n < len(plan) {
				what = plan[n]
			}
			n++
			mu.Unlock()
			if what == refuse {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, r)
			if what == serve {
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			if r.Method == http.MethodPost {
				var got struct {
					ClientID string `json:"client_id"`
				}
				if json.Unmarshal(rec.Body.Bytes(), &got) == nil && got.ClientID != "" {
					mu.Lock()
					lost[got.ClientID] = true
					mu.Unlock()
				}
			}
			if what == stop && ctx.Err() == nil { // once: a later one is a drop
				cancel()
				<-r.Context().Done()
				return
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}))
		fake.base = "http://" + ts.Listener.Addr().String()
		ts.Start()
		defer ts.Close()
		r, err := Run(ctx, Options{Endpoint: fake.base + "/register", Only: []string{"zed", "cursor-3", "claude-ai-secret",
			checkCreated, checkRead, checkUpdate, checkDelete, checkFragment},
			// A delete held at the stop waits for the budget.
			CleanupTimeout: 20 * time.Millisecond})
		require.NoError(rt, err)
		listed := map[string]bool{}
		possible := 0
		for _, l := range r.Leftovers {
			if l.Possible {
				possible++
			} else {
				listed[l.ClientID] = true
			}
		}
		fake.mu.Lock()
		defer fake.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		unlisted := 0
		for id := range fake.regs {
			if !listed[id] {
				if !lost[id] {
					rt.Fatalf("client %s still registered and not listed; leftovers %v", id, r.Leftovers)
				}
				unlisted++
			}
		}
		if unlisted > possible {
			rt.Fatalf("%d clients whose registration got no answer remain, %d listed as possible: %v", unlisted, possible, r.Leftovers)
		}
	})
}

// guard is a transport that passes requests for host only, and records
// the others without sending them.
type guard struct {
	host    string
	mu      sync.Mutex
	sent    []string
	refused []string
}

func (g *guard) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.URL.Host != g.host || r.URL.User != nil {
		g.refused = append(g.refused, r.URL.String())
		return nil, errors.New("the test's guard: not the endpoint's host")
	}
	g.sent = append(g.sent, r.Method+" "+r.URL.Path)
	return http.DefaultTransport.RoundTrip(r)
}

// TestOnlyTheGivenOrigin: whatever registration_client_uri the server
// answers (generated: every scheme, host, port and userinfo a confused
// origin check might take for the endpoint's), the doctor sends requests
// to the endpoint's origin only, follows registration_client_uri exactly
// when it is on that origin, and says so when it does not.
func TestOnlyTheGivenOrigin(t *testing.T) {
	fake, endpoint := startFake(t, faults{})
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	port := u.Port()
	var cases []string
	for _, scheme := range []string{"http", "HTTP", "https", "ftp", "ws"} {
		for _, host := range []string{"127.0.0.1", "localhost", "127.0.0.2", "127.1", "2130706433", "[::1]", "[::ffff:127.0.0.1]",
			"127.0.0.1.", "127.0.0.1.evil.example", "evil.example", "evil.example#@127.0.0.1"} {
			for _, p := range []string{":" + port, ":1" + port, "", ":0" + port, ":"} {
				for _, user := range []string{"", "127.0.0.1:" + port + "@", "user@"} {
					cases = append(cases, scheme+"://"+user+host+p)
				}
			}
		}
	}
	cases = append(cases, "relative", "//evil.example", "//127.0.0.1:"+port, "http:evil.example", "http:/127.0.0.1:"+port,
		"http://127.0.0.1:"+port+"\\@evil.example", "http://evil.example\\@127.0.0.1:"+port, " http://127.0.0.1:"+port,
		"http://127.0.0.1%3A"+port, "http://%31%32%37.0.0.1:"+port)
	followed := 0
	for _, base := range cases {
		fake.f.managementBase = base
		g := &guard{host: u.Host}
		r := run(t, Options{Endpoint: endpoint, HTTPClient: &http.Client{Transport: g}, Only: []string{"claude-code", checkRead}})
		uri := strings.TrimPrefix(base, "relative") + "/register/"
		want := strings.EqualFold(strings.SplitN(base, "://", 2)[0], "http") && strings.HasSuffix(base, "://127.0.0.1:"+port)
		assert.Empty(t, g.refused, "registration_client_uri %q: requests elsewhere", uri)
		code := clientResult(t, r, "claude-code")
		read := checkResult(t, r, checkRead)
		if want {
			followed++
			assert.Equal(t, []string{"read 200", "update 200", "deleted"}, code.Management, uri)
			assert.Equal(t, Pass, read.Status, uri)
			assert.Empty(t, r.Leftovers, uri)
			continue
		}
		assert.False(t, code.Failed, "%q: a client that does not use RFC 7592 works", uri)
		assert.Contains(t, fmt.Sprint(code.Management), "not deleted: registration_client_uri is not on the origin of the endpoint: not followed", uri)
		assert.Equal(t, Skip, read.Status, uri)
		assert.Contains(t, read.Reason, "not on the origin", uri)
		assert.Len(t, r.Leftovers, 2, "%q: the client and the probe are listed", uri)
		for _, sent := range g.sent {
			assert.True(t, strings.HasPrefix(sent, "POST /register") || strings.HasPrefix(sent, "OPTIONS /register"), "%q: %s", uri, sent)
		}
		fake.mu.Lock()
		clear(fake.regs)
		fake.mu.Unlock()
	}
	assert.Equal(t, 2, followed, "http and HTTP, on the endpoint's host and port")
	t.Logf("%d registration_client_uri values, %d followed", len(cases), followed)
}

// TestRedirectsNotFollowed: a 307 to another address is an answer, not a
// place to go.
func TestRedirectsNotFollowed(t *testing.T) {
	_, endpoint := startFake(t, faults{redirectGet: "http://evil.example/steal"})
	u, err := url.Parse(endpoint)
	require.NoError(t, err)
	g := &guard{host: u.Host}
	r := run(t, Options{Endpoint: endpoint, HTTPClient: &http.Client{Transport: g}, Only: []string{"zed", checkRead}})
	assert.Empty(t, g.refused)
	assert.Contains(t, clientResult(t, r, "zed").Problems, "read: 307 a redirect to http://evil.example/steal, not followed")
	assert.Equal(t, Fail, checkResult(t, r, checkRead).Status)
}

// TestHangingServer: a server that never answers costs one timeout, and
// every client and check says so.
func TestHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn // held open, never answered
		}
	}()
	defer func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	}()
	r := run(t, Options{Endpoint: "http://" + ln.Addr().String() + "/register", HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	assert.True(t, r.Failed())
	first := <-accepted // the first request's connection
	defer first.Close()
	assert.Empty(t, accepted, "one connection: the first request's")
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, Unreachable, c.Outcome, c.Name)
			assert.Contains(t, c.detail(), "POST /register got no answer", c.Name)
		}
	}
	assert.Equal(t, Fail, checkResult(t, r, checkCreated).Status)
}
