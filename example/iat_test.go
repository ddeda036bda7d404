package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/iatredis"
)

// TestBlackBoxInitialAccessTokenStore: tokens issued with the built
// dcr-iat, spent by two replicas sharing a real Redis: a token of 3 uses
// registers 3 clients, however the requests are spread; a registration
// refused gives its use back; list never shows a token; revoke ends it.
func TestBlackBoxInitialAccessTokenStore(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	emulator := authletetest.NewServer(t, authletetest.Options{})
	env := append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_REDIS_URL="+redisSrv.url(), "DCR_IAT_STORE=redis")
	a, pa := startExampleBinary(t, env, "")
	b, pb := startExampleBinary(t, env, "")
	iatBin := binary(t, "github.com/dcr-go/dcr/example/cmd/dcr-iat", false)
	dcrIAT := func(args ...string) string {
		t.Helper()
		p := start(t, iatBin, []string{"DCR_REDIS_URL=" + redisSrv.url()}, args...)
		p.wait(t, 30*time.Second)
		require.NoError(t, p.err, p.out.String())
		return p.out.String()
	}
	issue := func(uses, note string) (id, token string) {
		t.Helper()
		out := strings.TrimSpace(dcrIAT("issue", "-uses", uses, "-expires", "1h", "-note", note))
		lines := strings.Split(out, "\n")
		fields := strings.Fields(lines[len(lines)-1])
		require.Len(t, fields, 2, out)
		return fields[0], fields[1]
	}

	id, token := issue("3", "partner X")
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := send(t, "POST", []string{a, b}[i%2]+"/register", token, `{"redirect_uris":["https://app.example/cb"]}`)
			mu.Lock()
			statuses[got.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{201: 3, 401: 5}, statuses, "3 uses across 2 replicas")

	list := dcrIAT("list")
	assert.Regexp(t, regexp.MustCompile(id+`\s+0\s+\S+\s+partner X`), list)
	assert.NotContains(t, list, token, "list never shows a token")

	_, once := issue("1", "")
	refused := send(t, "POST", a+"/register", once, `{"redirect_uris":["javascript:alert(1)"]}`)
	assert.Equal(t, 400, refused.status)
	assert.Equal(t, 201, send(t, "POST", b+"/register", once, `{"redirect_uris":["https://app.example/cb"]}`).status, "the refused registration gave its use back")

	rid, revoked := issue("5", "")
	assert.Contains(t, dcrIAT("revoke", rid), "revoked "+rid)
	assert.Equal(t, 401, send(t, "POST", a+"/register", revoked, `{}`).status)
	assert.Equal(t, 401, send(t, "POST", a+"/register", "", `{}`).status, "a token is required")

	// A Redis that is gone is not a refused token: 500, which the client may
	// retry, not 401, which says its token is bad.
	_, spare := issue("5", "")
	redisSrv.stop()
	down := send(t, "POST", a+"/register", spare, `{}`)
	assert.Equal(t, 500, down.status, down.raw)
	assert.Equal(t, "server_error", down.body["error"])

	for _, tok := range []string{token, once, revoked, spare} {
		assert.NotContains(t, pa.out.String(), tok, "a token in the log")
		assert.NotContains(t, pb.out.String(), tok, "a token in the log")
	}

	// A mistyped invocation changes nothing.
	p := start(t, iatBin, []string{"DCR_REDIS_URL=" + redisSrv.url()}, "issue", "-uses", "0", "-expires", "1h")
	p.wait(t, 30*time.Second)
	assert.Error(t, p.err)
	assert.Contains(t, p.out.String(), "-uses N (1 or more)")
}

// TestBlackBoxHangUpsKeepTheUse is issue 21's finding: a token of one
// use, an Authlete that answers in 1.5 s, and 20 registrations whose
// client hangs up after 0.3 s. The first one's call runs to its end and
// Authlete creates a client: the use stays spent, so the other 19 and a
// 21st are refused without reaching Authlete. (The Handler used to
// cancel the call and refund the use each time: 20 calls reached
// Authlete, the token kept its use, and a 21st registration succeeded.)
func TestBlackBoxHangUpsKeepTheUse(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	emulator := authletetest.NewServer(t, authletetest.Options{})
	emulator.Inject(authletetest.Fault{Op: "register", Delay: 1500 * time.Millisecond}) // every registration, then answered normally
	env := append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_REDIS_URL="+redisSrv.url(), "DCR_IAT_STORE=redis")
	base, p := startExampleBinary(t, env, "")
	iat := start(t, binary(t, "github.com/dcr-go/dcr/example/cmd/dcr-iat", false), []string{"DCR_REDIS_URL=" + redisSrv.url()},
		"issue", "-uses", "1", "-expires", "1h")
	iat.wait(t, 30*time.Second)
	require.NoError(t, iat.err, iat.out.String())
	lines := strings.Split(strings.TrimSpace(iat.out.String()), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	require.Len(t, fields, 2, iat.out.String())
	token := fields[1]

	const metadata = `{"redirect_uris":["https://app.example/cb"]}`
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/register", strings.NewReader(metadata))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	require.Eventually(t, func() bool { return emulator.Clients() == 1 }, 10*time.Second, 20*time.Millisecond,
		"the first call, whose client hung up, ends at Authlete with a client")
	last := send(t, "POST", base+"/register", token, metadata)
	assert.Equal(t, 401, last.status, "a 21st registration with a token of one use: %s", last.raw)
	assert.Equal(t, 1, emulator.Calls("register"), "only the first registration reached Authlete")
	assert.Equal(t, 1, emulator.Clients())
	assert.NotContains(t, p.out.String(), token, "the token in the log")
}

// afterCreate is what lateAuthlete does with a registration once the
// emulator has created the client.
type afterCreate int

const (
	onTime  afterCreate = iota
	late                // after the Authlete client's timeout
	garbled             // HTTP 200 with a body that is not JSON
)

// lateAuthlete processes each registration at once (the emulator creates
// the client, whether or not the caller is still there), then holds its
// answer, or garbles it, as planned.
type lateAuthlete struct {
	emulator    *authletetest.Emulator
	delay, late time.Duration
	mu          sync.Mutex
	plan        []afterCreate
}

func (a *lateAuthlete) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/client/registration") {
		a.emulator.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	a.emulator.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	a.mu.Lock()
	after := onTime
	if len(a.plan) > 0 {
		after, a.plan = a.plan[0], a.plan[1:]
	}
	a.mu.Unlock()
	wait := a.delay
	if after == late {
		wait = a.late
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	if after == garbled {
		io.WriteString(w, `{"action":"CREATED",`)
		return
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestInvariantRedisClientsNeverOutnumberUses: two Handlers sharing a
// real Redis (iatredis) and one Authlete, registrations with one counted
// token whose clients hang up at random points, Authlete late past the
// timeout, garbling its answer, refusing with BAD_REQUEST or failing
// with HTTP 500: the clients created plus the uses left never exceed the
// uses issued, and equal them when every outcome could be known.
func TestInvariantRedisClientsNeverOutnumberUses(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	opts, err := redis.ParseURL(srv.url())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	store := iatredis.New(rdb)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var tokens []string
	rapid.Check(t, func(rt *rapid.T) {
		uses := rapid.IntRange(1, 3).Draw(rt, "uses")
		n := rapid.IntRange(1, 8).Draw(rt, "registrations")
		hangUps := rapid.SliceOfN(rapid.IntRange(0, 40), n, n).Draw(rt, "hang-up ms (0: never)")
		plan := rapid.SliceOfN(rapid.SampledFrom([]afterCreate{onTime, onTime, late, garbled}), 0, 3).Draw(rt, "after create")
		faults := rapid.SliceOfN(rapid.SampledFrom([]string{"BAD_REQUEST", "500"}), 0, 2).Draw(rt, "Authlete faults")
		known := !slices.Contains(plan, late) && !slices.Contains(plan, garbled) && !slices.Contains(faults, "500")

		const timeout = 100 * time.Millisecond
		emulator := authletetest.New(authletetest.Options{})
		for _, f := range faults {
			if f == "500" {
				emulator.Inject(authletetest.Fault{Op: "register", Times: 1, Status: 500})
			} else {
				emulator.Inject(authletetest.Fault{Op: "register", Times: 1, Action: authlete.ActionBadRequest, ResponseContent: `{"error":"invalid_client_metadata"}`})
			}
		}
		authleteSrv := httptest.NewServer(&lateAuthlete{emulator: emulator, delay: 15 * time.Millisecond, late: 2 * timeout, plan: plan})
		defer authleteSrv.Close()
		client, err := authlete.New(authlete.Config{BaseURL: authleteSrv.URL, APIVersion: authlete.V3,
			ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken, Timeout: timeout})
		if err != nil {
			rt.Fatal(err)
		}
		id, token, err := store.Issue(context.Background(), uses, time.Hour, "")
		if err != nil {
			rt.Fatal(err)
		}
		tokens = append(tokens, token)
		// A busy machine can make any call time out: an outcome unknown
		// that no fault planned.
		var timedOut atomic.Bool
		audit := func(_ context.Context, e dcr.Event) {
			if errors.Is(e.Err, context.DeadlineExceeded) {
				timedOut.Store(true)
			}
		}
		var replicas [2]*httptest.Server
		for i := range replicas {
			mux := http.NewServeMux()
			dcr.Mount(mux, "/register", dcr.New(client, dcr.Options{Logger: logger, Audit: audit,
				InitialAccessToken: store.Spend, RefundInitialAccessToken: store.Refund}))
			replicas[i] = httptest.NewServer(mux)
		}
		var wg sync.WaitGroup
		for i, ms := range hangUps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if ms > 0 {
					defer time.AfterFunc(time.Duration(ms)*time.Millisecond, cancel).Stop()
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", replicas[i%2].URL+"/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		for _, r := range replicas {
			r.Close() // waits for the requests still being served
		}
		authleteSrv.Close()
		list, err := store.List(context.Background())
		if err != nil {
			rt.Fatal(err)
		}
		left := -1
		for _, tok := range list {
			if tok.ID == id {
				left = tok.UsesLeft
			}
		}
		created := emulator.Clients()
		if left+created > uses {
			rt.Fatalf("%d clients created and %d uses left of a token of %d", created, left, uses)
		}
		if known && !timedOut.Load() && left+created != uses {
			rt.Fatalf("%d clients created and %d uses left of a token of %d, though every outcome was known", created, left, uses)
		}
	})
	for _, tok := range tokens {
		assert.NotContains(t, logs.String(), tok, "a token in the log")
	}
}
