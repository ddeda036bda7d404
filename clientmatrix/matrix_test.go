package clientmatrix

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/dcrtest"
)

// TestConformantFake: the test's own server without faults passes
// everything, and is left with no client: each failure below is its
// fault's.
func TestConformantFake(t *testing.T) {
	fake, endpoint := startFake(t, faults{})
	r := run(t, Options{Endpoint: endpoint})
	assert.False(t, r.Failed())
	assertAllPass(t, r)
	assert.Len(t, r.Clients, len(Corpus()))
	assert.Len(t, r.Checks, len(checkNames))
	assert.Empty(t, r.Leftovers)
	assert.Zero(t, fake.live(), "every client deleted")
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, Accepted, c.Outcome, c.Name)
			assert.Equal(t, []string{"read 200", "update 200", "deleted"}, c.Management, c.Name)
		}
	}
	goose := clientResult(t, r, "goose")
	assert.Equal(t, NeedsCIMD, goose.Outcome)
	assert.Contains(t, goose.Note, "not checked")
}

// TestRefusedDetail: a refusal keeps the status, the error and its
// description; a change names the member and both values.
func TestRefusedDetail(t *testing.T) {
	_, endpoint := startFake(t, faults{refuseCustomSchemes: true, noRefresh: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"cursor-3", "zed", "claude-code"}})
	cursor := clientResult(t, r, "cursor-3")
	assert.Equal(t, Refused, cursor.Outcome)
	assert.Equal(t, 400, cursor.Status)
	assert.Equal(t, "invalid_redirect_uri", cursor.Error)
	assert.Equal(t, "The custom scheme cursor: is not allowed.", cursor.ErrorDescription)
	assert.Equal(t, Accepted, clientResult(t, r, "zed").Outcome, "authorization_code only: nothing to drop")
	code := clientResult(t, r, "claude-code")
	assert.Equal(t, Changed, code.Outcome)
	assert.Equal(t, []Change{{"grant_types", []any{"authorization_code", "refresh_token"}, []any{"authorization_code"}}}, code.Changes)
	assert.Equal(t, []string{"the refresh_token grant"}, code.Missing)
	assert.Len(t, r.Clients, 3)
}

// TestNoManagement: without RFC 7592 the clients are accepted, the
// management checks are skipped, and each client is listed as left.
func TestNoManagement(t *testing.T) {
	fake, endpoint := startFake(t, faults{noManagement: true})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"claude-code", "zed", checkRead, checkDelete, checkCreated}})
	assert.False(t, r.Failed(), "RFC 7592 is optional")
	for _, name := range []string{checkRead, checkDelete} {
		c := checkResult(t, r, name)
		assert.Equal(t, Skip, c.Status)
		assert.Contains(t, c.Reason, "RFC 7592 not offered")
	}
	assert.Equal(t, Pass, checkResult(t, r, checkCreated).Status)
	assert.Len(t, r.Checks, 3)
	assert.Equal(t, fake.live(), len(r.Leftovers))
	assert.Len(t, r.Leftovers, 3, "two clients and the probe")
	var table strings.Builder
	r.WriteTable(&table)
	assert.Contains(t, table.String(), "Not deleted (delete them in the authorization server):")
	assert.Contains(t, table.String(), "client_id 1001: no registration_client_uri")
}

// TestRegisteredWithHandler: the library's handler on the Authlete
// emulator, behind a CORS middleware, passes everything.
func TestRegisteredWithHandler(t *testing.T) {
	srv := dcrtest.NewServer(t, dcrtest.Options{Middleware: allowCORS})
	r := run(t, Options{Endpoint: srv.RegistrationEndpoint})
	assertAllPass(t, r)
	assert.False(t, r.Failed())
	page, err := srv.Client.Admin().ListClients(context.Background(), 0, 100)
	require.NoError(t, err)
	assert.Empty(t, page.Clients, "every client deleted")
}

func allowCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestOptions(t *testing.T) {
	_, endpoint := startFake(t, faults{})
	for _, bad := range []string{"", "auth.example.com/register", "ftp://auth.example.com/register", "https://user@auth.example.com/register", "https://auth.example.com/register#x"} {
		_, err := Run(context.Background(), Options{Endpoint: bad})
		assert.Error(t, err, bad)
	}
	_, err := Run(context.Background(), Options{Endpoint: endpoint, Only: []string{"cursr"}})
	assert.ErrorContains(t, err, `"cursr" names no client and no check`)

	r := run(t, Options{Endpoint: endpoint, Only: []string{"Cursor", checkFragment}, Skip: []string{"cursor-1"}})
	require.Len(t, r.Clients, 1, "the product name selects its versions")
	assert.Equal(t, "cursor-3", r.Clients[0].Name)
	require.Len(t, r.Checks, 1)
	assert.Equal(t, checkFragment, r.Checks[0].Name)

	r = run(t, Options{Endpoint: endpoint, Skip: []string{"Cursor", checkNoStore}})
	assert.Len(t, r.Clients, len(Corpus())-2)
	assert.Len(t, r.Checks, len(checkNames)-1)
}

// TestRateLimited: a 429 is reported as the server's limit.
func TestRateLimited(t *testing.T) {
	_, endpoint := startFake(t, faults{registrationLimit: 1})
	r := run(t, Options{Endpoint: endpoint, Only: []string{"zed", "kiro"}})
	assert.False(t, clientResult(t, r, "zed").Failed)
	kiro := clientResult(t, r, "kiro")
	assert.Equal(t, Refused, kiro.Outcome)
	assert.Equal(t, 429, kiro.Status)
	assert.Contains(t, kiro.detail(), "429 too_many_requests: Too many registrations from this address.; rate limited: the server's limit")
}

// TestInitialAccessToken: protected registration refuses every client
// without the token, and says how to give it; with it, all pass.
func TestInitialAccessToken(t *testing.T) {
	const token = "initial-access-token-0123456789"
	_, endpoint := startFake(t, faults{initialAccessToken: token})
	r := run(t, Options{Endpoint: endpoint})
	assert.True(t, r.Failed())
	for _, c := range r.Clients {
		if c.Outcome != NeedsCIMD {
			assert.Equal(t, 401, c.Status, c.Name)
			assert.Contains(t, c.Note, "-initial-access-token", c.Name)
		}
	}
	for _, c := range r.Checks {
		assert.NotEqual(t, Fail, c.Status, "%s: %s: a 401 is no failure of the check", c.Name, c.Reason)
	}
	assert.Contains(t, checkResult(t, r, checkBadBody).Reason, "requires an initial access token")

	r = run(t, Options{Endpoint: endpoint, InitialAccessToken: token})
	assertAllPass(t, r)
	var table strings.Builder
	r.WriteTable(&table)
	assert.NotContains(t, table.String(), token)
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
