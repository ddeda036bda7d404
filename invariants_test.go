package dcr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/iat"
)

// afterCreate is what slowAuthlete does with a registration once the
// emulator has answered it: Authlete did the work, and then the answer is
// late, lost or garbled.
type afterCreate int

const (
	answer  afterCreate = iota // on time
	late                       // after the Authlete client's timeout
	garbled                    // HTTP 200 with a body that is not JSON
	dropped                    // the connection closed without an answer
)

// slowAuthlete is Authlete as it is seen from afar: it processes each
// registration (the emulator creates the client, whether or not the
// caller is still there) and then holds its answer for delay, or does
// what the next planned afterCreate says.
type slowAuthlete struct {
	emulator *authletetest.Emulator
	delay    time.Duration
	lateBy   time.Duration

	mu   sync.Mutex
	plan []afterCreate
}

func (s *slowAuthlete) next() afterCreate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.plan) == 0 {
		return answer
	}
	a := s.plan[0]
	s.plan = s.plan[1:]
	return a
}

func (s *slowAuthlete) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/client/registration") {
		s.emulator.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.emulator.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	after := s.next()
	wait := s.delay
	if after == late {
		wait = s.lateBy
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the client was created all the same
		}
	}
	switch after {
	case garbled:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"action":"CREATED","responseContent":`))
	case dropped:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	default:
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}
}

// storeFault is what flakyStore does with one Spend or Refund.
type storeFault int

const (
	storeUp       storeFault = iota
	downBefore               // Spend fails before taking a use
	downAfter                // Spend takes the use, then its answer is lost
	refundDropped            // Refund never reaches the store
)

// flakyStore is an iat.Store whose Spend and Refund fail as planned: a
// store outage.
type flakyStore struct {
	iat.Store
	mu     sync.Mutex
	spends []storeFault
	drops  int // refunds still to drop
}

func (s *flakyStore) Spend(ctx context.Context, token string) error {
	s.mu.Lock()
	f := storeUp
	if len(s.spends) > 0 {
		f, s.spends = s.spends[0], s.spends[1:]
	}
	s.mu.Unlock()
	switch f {
	case downBefore:
		return fmt.Errorf("store: %w: connection refused", dcr.ErrVerifierFailed)
	case downAfter:
		if err := s.Store.Spend(ctx, token); err != nil {
			return err
		}
		return fmt.Errorf("store: %w: i/o timeout", dcr.ErrVerifierFailed)
	}
	return s.Store.Spend(ctx, token)
}

func (s *flakyStore) Refund(ctx context.Context, token string) {
	s.mu.Lock()
	drop := s.drops > 0
	if drop {
		s.drops--
	}
	s.mu.Unlock()
	if !drop {
		s.Store.Refund(ctx, token)
	}
}

// registration is one generated registration request.
type registration struct {
	replica int
	body    string        // client metadata, or something that is not
	hangUp  time.Duration // when the client goes away; 0: never
}

// bodies are registrations of every kind the Handler and Authlete tell
// apart: good ones, ones Authlete refuses, ones a policy refuses or fails
// on, and ones the Handler refuses before any policy.
var bodies = []string{
	`{"redirect_uris":["https://app.example/cb"]}`,
	`{"redirect_uris":["https://app.example/cb"],"client_name":"Claude"}`,
	`{"redirect_uris":["https://app.example/cb#fragment"]}`, // Authlete: BAD_REQUEST
	`{"redirect_uris":["https://app.example/cb"],"reject":true}`,
	`{"redirect_uris":["https://app.example/cb"],"fail":true}`,
	`[`,
}

// TestInvariantClientsNeverOutnumberUses: whatever happens to the
// registrations of one counted initial access token (clients hanging up
// at any point, Authlete slow past the timeout, answering garbage,
// dropping the connection, refusing with BAD_REQUEST, 429 or 500,
// failing with INTERNAL_SERVER_ERROR, the store failing), spread over two
// replicas that share the store and Authlete:
//
//   - the clients Authlete created, plus the uses left, never exceed the
//     uses issued: a use is given back only when no client was created;
//   - when every outcome could be known (no answer lost, no store
//     failure), they are equal: a use is kept only for a client created.
func TestInvariantClientsNeverOutnumberUses(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		uses := rapid.IntRange(1, 4).Draw(rt, "uses")
		regs := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) registration {
			reg := registration{
				replica: rapid.IntRange(0, 1).Draw(rt, "replica"),
				body:    rapid.SampledFrom(bodies).Draw(rt, "body"),
			}
			if rapid.Bool().Draw(rt, "hangs up") {
				reg.hangUp = time.Duration(rapid.IntRange(1, 40).Draw(rt, "hang-up ms")) * time.Millisecond
			}
			return reg
		}), 1, 10).Draw(rt, "registrations")
		plan := rapid.SliceOfN(rapid.SampledFrom([]afterCreate{answer, answer, late, garbled, dropped}), 0, 4).Draw(rt, "after create")
		faults := rapid.SliceOfN(rapid.SampledFrom([]string{"BAD_REQUEST", "INTERNAL_SERVER_ERROR", "429", "500", "timeout"}), 0, 3).Draw(rt, "Authlete faults")
		spends := rapid.SliceOfN(rapid.SampledFrom([]storeFault{storeUp, storeUp, downBefore, downAfter}), 0, 4).Draw(rt, "store faults")
		drops := rapid.IntRange(0, 1).Draw(rt, "refunds dropped")

		known := drops == 0
		for _, a := range plan {
			known = known && a == answer
		}
		for _, f := range faults {
			known = known && (f == "BAD_REQUEST" || f == "429")
		}
		for _, f := range spends {
			known = known && f != downAfter
		}

		const timeout = 100 * time.Millisecond
		emulator := authletetest.New(authletetest.Options{})
		for _, f := range faults {
			fault := authletetest.Fault{Op: "register", Times: 1}
			switch f {
			case "BAD_REQUEST", "INTERNAL_SERVER_ERROR":
				fault.Action, fault.ResponseContent = authlete.Action(f), `{"error":"invalid_client_metadata"}`
			case "429":
				fault.Status = http.StatusTooManyRequests
			case "500":
				fault.Status = http.StatusInternalServerError
			case "timeout": // no answer in time, and no client: the emulator sees its caller leave
				fault.Delay, fault.Status = 3*timeout, http.StatusInternalServerError
			}
			emulator.Inject(fault)
		}
		authleteServer := httptest.NewServer(&slowAuthlete{emulator: emulator, delay: 15 * time.Millisecond, lateBy: 2 * timeout, plan: plan})
		defer authleteServer.Close()
		client, err := authlete.New(authlete.Config{BaseURL: authleteServer.URL, APIVersion: authlete.V3,
			ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken,
			Timeout: timeout, Retries: -1})
		if err != nil {
			rt.Fatal(err)
		}

		ctx := context.Background()
		memory := iat.NewMemory()
		_, token, err := memory.Issue(ctx, uses, time.Hour, "")
		if err != nil {
			rt.Fatal(err)
		}
		store := &flakyStore{Store: memory, spends: spends, drops: drops}
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
			replicas[i] = httptest.NewServer(newRouter(dcr.New(client, dcr.Options{
				Logger:                   sinkLogger(t),
				Audit:                    audit,
				InitialAccessToken:       store.Spend,
				RefundInitialAccessToken: store.Refund,
				Policies: []dcr.Policy{func(_ *http.Request, m dcr.Metadata) error {
					switch {
					case m["reject"] != nil:
						return dcr.Reject(dcr.InvalidClientMetadata, "rejected")
					case m["fail"] != nil:
						return errors.New("the policy's own store is down")
					}
					return nil
				}},
			})))
		}
		logSink.secret(token)

		var wg sync.WaitGroup
		for _, reg := range regs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				if reg.hangUp > 0 {
					stop := time.AfterFunc(reg.hangUp, cancel)
					defer stop.Stop()
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", replicas[reg.replica].URL+"/register", strings.NewReader(reg.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		for _, r := range replicas {
			r.Close() // waits for the requests the replica is still serving
		}
		authleteServer.Close() // and for Authlete's

		created := emulator.Clients()
		list, err := memory.List(ctx)
		if err != nil || len(list) != 1 {
			rt.Fatalf("List: %v %v", list, err)
		}
		left := list[0].UsesLeft
		if left+created > uses {
			rt.Fatalf("%d clients created and %d uses left of a token of %d: a use came back for a client that exists", created, left, uses)
		}
		if known && !timedOut.Load() && left+created != uses {
			rt.Fatalf("%d clients created and %d uses left of a token of %d, though every outcome was known", created, left, uses)
		}
	})
}

// TestInvariantMetadataShape: whatever mix of objects and arrays a body
// nests, and whatever escapes and brackets its strings hold, the Handler
// refuses it before any policy exactly when it is nested more than
// MaxMetadataDepth levels deep or holds a string longer than
// MaxMetadataStringBytes as sent; any other body reaches the policies
// and Authlete.
func TestInvariantMetadataShape(t *testing.T) {
	pieces := []string{`x`, `\"`, `\\`, `\u00e9`, `[`, `{`, `]`, `}`, `é`, `\/`}
	rapid.Check(t, func(rt *rapid.T) {
		depth := rapid.IntRange(1, dcr.MaxMetadataDepth+8).Draw(rt, "depth")
		var str strings.Builder
		str.WriteString(strings.Repeat("x", rapid.IntRange(0, dcr.MaxMetadataStringBytes+8).Draw(rt, "plain bytes")))
		for _, p := range rapid.SliceOfN(rapid.SampledFrom(pieces), 0, 8).Draw(rt, "pieces") {
			str.WriteString(p)
		}
		inner := `"` + str.String() + `"`
		if rapid.Bool().Draw(rt, "as a member name") {
			inner = `{` + inner + `:1}`
			depth = max(depth, 2) - 1 // the object is a level of its own
		}
		open, close := "", ""
		for level := 1; level <= depth; level++ {
			if level == 1 || rapid.Bool().Draw(rt, "object") {
				open += `{"n":1,"k":`
				close = `}` + close
			} else {
				open += `[1,`
				close = `]` + close
			}
		}
		body := open + inner + close
		levels := depth
		if strings.HasPrefix(inner, "{") {
			levels++
		}
		if !json.Valid([]byte(body)) {
			rt.Fatalf("the generator made invalid JSON: %.200s", body)
		}

		ran := false
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: `{}`}}
		h := newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), Policies: []dcr.Policy{func(*http.Request, dcr.Metadata) error { ran = true; return nil }}}))
		rec := send(h, "POST", "/register", "", body)
		long := len(str.String()) > dcr.MaxMetadataStringBytes
		switch {
		case levels > dcr.MaxMetadataDepth || long:
			if rec.Code != 400 || ran || len(backend.recorded()) != 0 || !strings.Contains(rec.Body.String(), `"invalid_client_metadata"`) {
				rt.Fatalf("%d levels, a string of %d bytes: %d %s (policy ran: %v)", levels, str.Len(), rec.Code, rec.Body.String(), ran)
			}
		default:
			if rec.Code != 201 || !ran || len(backend.recorded()) != 1 {
				rt.Fatalf("%d levels, a string of %d bytes refused: %d %s", levels, str.Len(), rec.Code, rec.Body.String())
			}
		}
	})
}
