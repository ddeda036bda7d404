package authlete_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

const (
	serviceID   = "21653835348762"
	accessToken = "V5a40R6dWvw2gMkCOBFdZcM95q4HC0Z-T0YKD9-nR6F"
	apiKey      = "4593494640"
	apiSecret   = "AcpSj8xlRNtmvXUvBS3IzYRKbIsDwnSiLplfqTgdOpp"
)

// recorded is one call as the server saw it.
type recorded struct {
	method, path, contentType, accept, authorization string
	body                                             map[string]any
}

// recorder is an Authlete stand-in that records calls and answers with
// the given status and body.
func recorder(t *testing.T, status int, answer string) (*httptest.Server, *[]recorded) {
	t.Helper()
	var mu sync.Mutex
	calls := &[]recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("request body %q is not JSON: %v", data, err)
		}
		mu.Lock()
		*calls = append(*calls, recorded{r.Method, r.URL.Path, r.Header.Get("Content-Type"),
			r.Header.Get("Accept"), r.Header.Get("Authorization"), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func v3Config(base string) authlete.Config {
	return authlete.Config{BaseURL: base, ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}
}

func v2Config(base string) authlete.Config {
	return authlete.Config{BaseURL: base, APIVersion: "v2", ServiceAPIKey: apiKey, ServiceAPISecret: apiSecret}
}

func TestCallsWireFormat(t *testing.T) {
	const answer = `{"resultCode":"A202001","resultMessage":"[A202001] created","action":"CREATED",` +
		`"responseContent":"{\"client_id\":\"1\"}","client":{"clientId":1}}`
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"+apiSecret))
	type call func(*authlete.Client, context.Context, *authlete.Request) (*authlete.Response, error)
	ops := []struct {
		name   string
		suffix string
		call   call
		req    authlete.Request
		body   map[string]any
	}{
		{"register", "/client/registration", (*authlete.Client).Register,
			authlete.Request{JSON: `{"client_name":"My Dynamic Client"}`},
			map[string]any{"json": `{"client_name":"My Dynamic Client"}`}},
		{"register with initial token", "/client/registration", (*authlete.Client).Register,
			authlete.Request{JSON: `{}`, Token: "iat"},
			map[string]any{"json": `{}`, "token": "iat"}},
		{"get", "/client/registration/get", (*authlete.Client).Get,
			authlete.Request{ClientID: "26837717140341", Token: "qs4Tu5TV"},
			map[string]any{"clientId": "26837717140341", "token": "qs4Tu5TV"}},
		{"update", "/client/registration/update", (*authlete.Client).Update,
			authlete.Request{ClientID: "26837717140341", Token: "qs4Tu5TV", JSON: `{"client_id":"26837717140341"}`},
			map[string]any{"clientId": "26837717140341", "token": "qs4Tu5TV", "json": `{"client_id":"26837717140341"}`}},
		{"delete", "/client/registration/delete", (*authlete.Client).Delete,
			authlete.Request{ClientID: "26837717140341", Token: "qs4Tu5TV"},
			map[string]any{"clientId": "26837717140341", "token": "qs4Tu5TV"}},
	}
	versions := []struct {
		name   string
		config func(string) authlete.Config
		prefix string
		auth   string
	}{
		{"v3", v3Config, "/api/" + serviceID, "Bearer " + accessToken},
		{"v2", v2Config, "/api", basic},
	}
	for _, v := range versions {
		for _, op := range ops {
			t.Run(v.name+"/"+op.name, func(t *testing.T) {
				srv, calls := recorder(t, http.StatusOK, answer)
				c, err := authlete.New(v.config(srv.URL + "/")) // a trailing slash is fine
				require.NoError(t, err)
				resp, err := op.call(c, context.Background(), &op.req)
				require.NoError(t, err)
				assert.Equal(t, &authlete.Response{ResultCode: "A202001", ResultMessage: "[A202001] created",
					Action: authlete.ActionCreated, ResponseContent: `{"client_id":"1"}`,
					Client: json.RawMessage(`{"clientId":1}`)}, resp)
				require.Len(t, *calls, 1)
				got := (*calls)[0]
				assert.Equal(t, recorded{http.MethodPost, v.prefix + op.suffix, "application/json",
					"application/json", v.auth, op.body}, got)
			})
		}
	}
}

// TestMaxResponseBytesBoundary: an answer of exactly MaxResponseBytes is
// read; one byte more is too large.
func TestMaxResponseBytesBoundary(t *testing.T) {
	answer := `{"action":"OK","responseContent":"{}"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, answer) }))
	defer srv.Close()
	for limit, wantErr := range map[int64]bool{int64(len(answer)): false, int64(len(answer)) - 1: true} {
		cfg := v3Config(srv.URL)
		cfg.MaxResponseBytes = limit
		c, err := authlete.New(cfg)
		require.NoError(t, err)
		_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
		if wantErr {
			assert.ErrorIs(t, err, authlete.ErrResponseTooLarge, "limit %d", limit)
		} else {
			assert.NoError(t, err, "limit %d", limit)
		}
	}
}

func TestUnusableAnswers(t *testing.T) {
	cases := []struct {
		name   string
		handle http.HandlerFunc
		want   error
	}{
		{"garbage", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>oops") }, authlete.ErrMalformedResponse},
		{"wrong types", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"action":42}`) }, authlete.ErrMalformedResponse},
		{"truncated", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"action":"OK","respo`) }, authlete.ErrMalformedResponse},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"action":"OK","responseContent":"`+strings.Repeat("a", 2048)+`"}`)
		}, authlete.ErrResponseTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handle)
			defer srv.Close()
			cfg := v3Config(srv.URL)
			cfg.MaxResponseBytes = 1024
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			_, err = c.Register(context.Background(), &authlete.Request{JSON: "{}"})
			require.ErrorIs(t, err, tc.want)
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "register", ae.Op)
			assert.Equal(t, http.StatusOK, ae.StatusCode)
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		c, err := authlete.New(v3Config("http://" + addr))
		require.NoError(t, err)
		_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
		var ae *authlete.Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Transport())
		assert.Equal(t, 0, ae.StatusCode)
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr)
	})
	t.Run("dropped connection", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		defer srv.Close()
		c, err := authlete.New(v3Config(srv.URL))
		require.NoError(t, err)
		_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
		var ae *authlete.Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Transport())
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		cfg := v3Config(srv.URL)
		cfg.Timeout = 50 * time.Millisecond
		cfg.Retries = -1
		c, err := authlete.New(cfg)
		require.NoError(t, err)
		_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("caller cancels", func(t *testing.T) {
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server notices the connection closing
			close(arrived)
			<-r.Context().Done() // the cancelled call closes the connection
		}))
		defer srv.Close()
		c, err := authlete.New(v3Config(srv.URL))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err = c.Update(ctx, &authlete.Request{ClientID: "1", Token: "t", JSON: "{}"})
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// countingServer answers every call with OK and counts the connections
// opened to it, and the most open at once.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	var opened, open, mostOpen atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"action":"OK","responseContent":"{}"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
			n := open.Add(1)
			for m := mostOpen.Load(); n > m && !mostOpen.CompareAndSwap(m, n); m = mostOpen.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &opened, &mostOpen
}

func callConcurrently(t *testing.T, c *authlete.Client, callers, callsEach int) {
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < callsEach; j++ {
				_, err := c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
}

func TestConnectionsReusedUnderConcurrency(t *testing.T) {
	const callers, callsEach = 32, 20
	t.Run("default pool", func(t *testing.T) {
		// Go's transport may dial while a connection is about to be
		// freed; the pool keeps such extra connections instead of closing
		// them, so they stay few (Go's default transport, keeping 2 idle
		// connections, opened about 180 here).
		srv, opened, _ := countingServer(t)
		c, err := authlete.New(v3Config(srv.URL))
		require.NoError(t, err)
		callConcurrently(t, c, callers, callsEach)
		t.Logf("%d connections opened for %d calls by %d callers", opened.Load(), callers*callsEach, callers)
		assert.LessOrEqual(t, opened.Load(), int64(2*callers))
	})
	t.Run("MaxConns caps connections", func(t *testing.T) {
		srv, opened, mostOpen := countingServer(t)
		cfg := v3Config(srv.URL)
		cfg.MaxConns = callers / 2
		c, err := authlete.New(cfg)
		require.NoError(t, err)
		callConcurrently(t, c, callers, callsEach)
		// At once: on a busy machine a connection may close and another
		// take its place, which the cap allows.
		t.Logf("%d connections opened, %d at most at once", opened.Load(), mostOpen.Load())
		assert.LessOrEqual(t, mostOpen.Load(), int64(callers/2))
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestMetadataIsNotHTMLEscaped protects Authlete's quota and bandwidth
// from metadata full of '<', '>' and '&': each went out as six bytes.
func TestMetadataIsNotHTMLEscaped(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"action":"BAD_REQUEST","responseContent":"{}"}`)
	}))
	defer srv.Close()
	c, err := authlete.New(v3Config(srv.URL))
	require.NoError(t, err)
	metadata := `{"client_name":"` + strings.Repeat("<&>", 1000) + `"}`
	_, err = c.Register(context.Background(), &authlete.Request{JSON: metadata})
	require.NoError(t, err)
	assert.Less(t, len(got), len(metadata)+len(metadata)/10, "the body grew from %d to %d bytes", len(metadata), len(got))
	var sent authlete.Request
	require.NoError(t, json.Unmarshal(got, &sent))
	assert.Equal(t, metadata, sent.JSON)
}

// TestTracedTransport: a wrapped NewTransport as HTTPClient sees every
// call, with the context it was given, and can add headers to it.
func TestTracedTransport(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	type key struct{}
	var seen []string
	base := authlete.NewTransport(0)
	assert.Equal(t, authlete.DefaultMaxConns, base.MaxConnsPerHost)
	cfg := srv.Config()
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, fmt.Sprint(r.URL.Path, " ", r.Context().Value(key{})))
		r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		return base.RoundTrip(r)
	})}
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	ctx := context.WithValue(context.Background(), key{}, "trace-1")
	resp, err := c.Register(ctx, &authlete.Request{JSON: `{}`})
	require.NoError(t, err)
	assert.Equal(t, authlete.ActionCreated, resp.Action)
	assert.Equal(t, []string{"/api/" + authletetest.DefaultServiceID + "/client/registration trace-1"}, seen)
	assert.Equal(t, 7, authlete.NewTransport(7).MaxConnsPerHost)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAnswersNeverRepeatCredentials protects the service's credentials
// from an Authlete (or a gateway in front of it) whose answer repeats
// them: its resultMessage reached the example's start-up and readiness
// logs ("HTTP 401 A001203 \"... token <service access token> ...\"").
// No Error nor Response of the client holds the credentials it sends.
func TestAnswersNeverRepeatCredentials(t *testing.T) {
	for _, cfgOf := range []func(string) authlete.Config{v3Config, v2Config} {
		for _, status := range []int{200, 400, 401, 403, 500} {
			cfg := cfgOf("")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				_, basic, _ := strings.Cut(auth, " ")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				msg, _ := json.Marshal(fmt.Sprintf("[A001203] %s%s %s %s is invalid", cfg.ServiceAccessToken, cfg.ServiceAPISecret, auth, basic))
				fmt.Fprintf(w, `{"resultCode":"A001203","resultMessage":%s,"action":"INTERNAL_SERVER_ERROR","serviceName":%s}`, msg, msg)
			}))
			cfg.BaseURL = srv.URL
			c, err := authlete.New(cfg)
			require.NoError(t, err)
			var texts []string
			resp, err := c.Register(context.Background(), &authlete.Request{JSON: `{}`})
			texts = append(texts, fmt.Sprintf("%v %+v", err, resp))
			texts = append(texts, fmt.Sprint(c.Check(context.Background())))
			svc, err := c.Admin().Service(context.Background())
			texts = append(texts, fmt.Sprintf("%v %+v", err, svc))
			srv.Close()
			for _, text := range texts {
				assert.NotContains(t, text, accessToken, status)
				assert.NotContains(t, text, apiSecret, status)
				assert.NotContains(t, text, base64.StdEncoding.EncodeToString([]byte(apiKey+":"+apiSecret)), status)
			}
			assert.Contains(t, texts[0], "REDACTED", status)
		}
	}
}
