package clientmatrix

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// counted is a server of the test's own that counts the requests it gets.
type counted struct {
	mu    sync.Mutex
	sent  []string
	serve http.HandlerFunc
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.sent = append(c.sent, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	c.serve(w, r)
}

func (c *counted) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent...)
}

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

// TestLeftoverTextInert: the client_id of a client left registered is the
// server's text too, and cannot drive the operator's terminal.
func TestLeftoverTextInert(t *testing.T) {
	srv := &counted{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client_id": "\x1b]0;pwned\x07\x1b[2J\u202e",
			"registration_client_uri": "http://evil.example/x", "registration_access_token": "t"})
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	r := run(t, Options{Endpoint: ts.URL + "/register", Only: []string{"zed", checkCreated}})
	require.NotEmpty(t, r.Leftovers)
	var table strings.Builder
	require.NoError(t, r.WriteTable(&table))
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		assert.NotContains(t, table.String(), bad)
	}
}

// TestCreatedWithoutClientID: a 201 without client_id but with RFC 7592
// management still has its registration deleted; one without either is
// listed as left registered.
func TestCreatedWithoutClientID(t *testing.T) {
	var mu sync.Mutex
	live := 0
	var base string
	srv := &counted{serve: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPost:
			live++
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"},
				"registration_client_uri": base + "/register/x", "registration_access_token": "t"})
		case http.MethodDelete:
			live--
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"invalid_request"}`))
		}
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base = ts.URL
	r := run(t, Options{Endpoint: ts.URL + "/register", Only: []string{"zed", checkCreated, checkRead}})
	assert.True(t, r.Failed())
	assert.Contains(t, clientResult(t, r, "zed").Missing, "a client_id")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 0, live, "every registration deleted: %v, leftovers %v", srv.requests(), r.Leftovers)
}

// TestNoTokenAdmitted: a client configuration endpoint that serves a
// request without any registration access token (an optional-auth
// middleware's classic slip) fails wrong-token; one that refuses it
// passes.
func TestNoTokenAdmitted(t *testing.T) {
	_, endpoint := startFake(t, faults{noTokenAdmitted: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"zed", checkWrongToken}})
	got := checkResult(t, r, checkWrongToken)
	assert.Equal(t, Fail, got.Status)
	assert.Contains(t, got.Reason, "without a token")
	_, endpoint = startFake(t, faults{})
	assert.Equal(t, Pass, checkResult(t, run(t, Options{Endpoint: endpoint, Only: []string{"zed", checkWrongToken}}), checkWrongToken).Status)
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

// TestStoppedRunDeletes: a run whose context ends while a registration's
// read hangs registers no more, still deletes that registration (on a
// context of its own), and reports that it stopped.
func TestStoppedRunDeletes(t *testing.T) {
	fake := newFakeDCR(faults{})
	ctx, cancel := context.WithCancel(context.Background())
	held := make(chan struct{})
	var once sync.Once
	hold := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			once.Do(func() { close(held) })
			<-r.Context().Done()
			return
		}
		fake.ServeHTTP(w, r)
	})
	ts := httptest.NewUnstartedServer(hold)
	fake.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	endpoint := fake.base + "/register"
	go func() { <-held; cancel() }()
	r, err := Run(ctx, Options{Endpoint: endpoint, Only: []string{"zed", "cursor-3", checkCreated}})
	require.NoError(t, err)
	assert.True(t, r.Failed())
	assert.Contains(t, r.Stopped, "context canceled")
	assert.Len(t, r.Clients, 1, "no registration after the stop")
	assert.Empty(t, r.Checks)
	assert.Empty(t, r.Leftovers)
	assert.Equal(t, 0, fake.live(), "deleted after the stop")
}

// TestStoppedCleanupBudget: after the stop, a DELETE that hangs costs
// CleanupTimeout, not the request timeout, and its client is listed.
func TestStoppedCleanupBudget(t *testing.T) {
	fake := newFakeDCR(faults{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held := make(chan struct{})
	hold := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			close(held)
			<-r.Context().Done()
		case http.MethodDelete:
			<-r.Context().Done()
		default:
			fake.ServeHTTP(w, r)
		}
	})
	ts := httptest.NewUnstartedServer(hold)
	fake.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	go func() { <-held; cancel() }()
	r, err := Run(ctx, Options{Endpoint: fake.base + "/register", Only: []string{"zed"}, CleanupTimeout: 50 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: time.Hour}})
	require.NoError(t, err)
	require.Len(t, r.Leftovers, 1)
	assert.Equal(t, "1001", r.Leftovers[0].ClientID)
	assert.Contains(t, r.Leftovers[0].Reason, "the 50ms to delete after the stop ran out")
	assert.NotEmpty(t, r.Stopped)
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
