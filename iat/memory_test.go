package iat_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/iat"
	"github.com/dcr-go/dcr/iat/iattest"
	"github.com/dcr-go/dcr/policy"
)

var ctx = context.Background()

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestStore runs the Store contract against the memory store; the example
// runs it against its Redis store.
func TestStore(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	iattest.Run(t, iat.NewMemoryAt(clk.Now), clk.Add)
}

// TestHandlerRefunds: through a dcr.Handler, a registration refused by a
// policy, by Authlete (BAD_REQUEST) or by Authlete's refusal of the call
// (429) gives its use back; one that created a client spends it, and so
// does one whose outcome is unknown (HTTP 500: Authlete may have created
// the client).
func TestHandlerRefunds(t *testing.T) {
	store := iat.NewMemory()
	srv := dcrtest.NewServer(t, dcrtest.Options{Handler: dcr.Options{
		InitialAccessToken: store.Spend, RefundInitialAccessToken: store.Refund,
		Policies: []dcr.Policy{policy.MaxRedirectURIs(1)},
	}})
	_, token, err := store.Issue(ctx, 1, time.Hour, "")
	require.NoError(t, err)
	register := func(body string) int {
		req, _ := http.NewRequest("POST", srv.RegistrationEndpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 400, register(`{"redirect_uris":["https://a.example/1","https://a.example/2"]}`), "refused by a policy")
	assert.Equal(t, 400, register(`{"redirect_uris":["https://a.example/cb#frag"]}`), "refused by Authlete")
	srv.Authlete.Inject(authletetest.Fault{Op: "register", Status: 429, Times: 1})
	assert.Equal(t, 503, register(`{}`), "Authlete refused the call")
	assert.Equal(t, 201, register(`{}`), "the one use is still there")
	assert.Equal(t, 401, register(`{}`), "and now spent")
	list, err := store.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, list[0].UsesLeft)

	_, token, err = store.Issue(ctx, 1, time.Hour, "")
	require.NoError(t, err)
	srv.Authlete.Inject(authletetest.Fault{Op: "register", Status: 500, Times: 1})
	assert.Equal(t, 500, register(`{}`), "Authlete failed")
	assert.Equal(t, 401, register(`{}`), "the use stays spent: Authlete may have created a client")
}
