package dcr_test

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// noGoroutineLeft fails the test if, once its cleanups have run, more
// goroutines are alive than when it started. Call it first, so that its
// cleanup runs last.
func noGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// hookRecorder is an ErrorHandler that remembers the errors it saw.
type hookRecorder struct {
	mu   sync.Mutex
	errs []error
	seen chan struct{}
}

func newHookRecorder() *hookRecorder { return &hookRecorder{seen: make(chan struct{}, 16)} }

func (h *hookRecorder) handle(w http.ResponseWriter, r *http.Request, err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
	h.seen <- struct{}{}
	dcr.DefaultErrorHandler(w, r, err)
}

func (h *hookRecorder) only(t *testing.T) error {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.errs, 1)
	return h.errs[0]
}

func TestFaultMatrix(t *testing.T) {
	refusal := func(status int) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var ae *authlete.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, status, ae.StatusCode)
			assert.Regexp(t, `^A\d{6}$`, ae.ResultCode)
			assert.NotEmpty(t, ae.ResultMessage, "the application sees Authlete's message; the client does not")
		}
	}
	is := func(target error) func(*testing.T, error) {
		return func(t *testing.T, err error) { assert.ErrorIs(t, err, target) }
	}
	transport := func(t *testing.T, err error) {
		var ae *authlete.Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Transport(), "%v", err)
	}
	cases := []struct {
		name       string
		fault      authletetest.Fault
		refused    bool // Authlete's port is closed
		status     int
		code       string
		retryAfter string
		hook       func(*testing.T, error)
	}{
		{"HTTP 400", authletetest.Fault{Status: 400}, false, 500, "server_error", "", refusal(400)},
		{"HTTP 401", authletetest.Fault{Status: 401}, false, 500, "server_error", "", refusal(401)},
		{"HTTP 403", authletetest.Fault{Status: 403}, false, 500, "server_error", "", refusal(403)},
		{"HTTP 404", authletetest.Fault{Status: 404}, false, 500, "server_error", "", refusal(404)},
		{"HTTP 429", authletetest.Fault{Status: 429, RetryAfter: "3"}, false, 503, "temporarily_unavailable", "3", refusal(429)},
		{"HTTP 500", authletetest.Fault{Status: 500}, false, 500, "server_error", "", refusal(500)},
		{"garbage JSON", authletetest.Fault{Body: `{"action":"CREATED","responseContent":`}, false, 500, "server_error", "", is(authlete.ErrMalformedResponse)},
		{"unknown action", authletetest.Fault{Action: "APPROVED", ResponseContent: `{"client_id":"1"}`}, false, 500, "server_error", "", is(dcr.ErrBadBackendResponse)},
		{"huge body", authletetest.Fault{Body: `{"action":"CREATED","responseContent":"` + strings.Repeat("x", 5<<20) + `"}`}, false, 500, "server_error", "", is(authlete.ErrResponseTooLarge)},
		// Authlete never answers within the attempt's timeout, however
		// loaded the machine: the delay ends only when the caller gives up.
		{"slow answer past the timeout", authletetest.Fault{Delay: time.Hour}, false, 504, "server_error", "", is(context.DeadlineExceeded)},
		{"dropped connection", authletetest.Fault{Drop: true}, false, 500, "server_error", "", transport},
		{"connection refused", authletetest.Fault{}, true, 500, "server_error", "", transport},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noGoroutineLeft(t)
			hook := newHookRecorder()
			s := newStack(t, dcr.Options{ErrorHandler: hook.handle}, func(c *authlete.Config) {
				// The default timeout for every case (reading a 5 MiB
				// answer under -race on a busy machine takes a while), a
				// short one where the case is the timeout.
				if tc.fault.Delay > 0 {
					c.Timeout = 200 * time.Millisecond
				}
				if tc.refused {
					l, err := net.Listen("tcp", "127.0.0.1:0")
					require.NoError(t, err)
					c.BaseURL = "http://" + l.Addr().String()
					l.Close()
				}
			})
			s.emulator.Inject(tc.fault)

			resp, body := s.do(t, "POST", "/register", "", `{"client_name":"x"}`)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.retryAfter, resp.Header.Get("Retry-After"))
			code, _ := errorBody(t, []byte(body))
			assert.Equal(t, tc.code, code)
			for _, secret := range []string{"A00", "Injected", authletetest.DefaultAccessToken, "127.0.0.1", "authlete"} {
				assert.NotContains(t, body, secret)
			}
			tc.hook(t, hook.only(t))
		})
	}
}

func TestFaultRetriedReadSucceeds(t *testing.T) {
	noGoroutineLeft(t)
	s := newStack(t, dcr.Options{}, func(c *authlete.Config) { c.RetryBackoff = time.Millisecond })
	resp, body := s.do(t, "POST", "/register", "", `{}`)
	require.Equal(t, 201, resp.StatusCode)
	var reg struct {
		URI   string `json:"registration_client_uri"`
		Token string `json:"registration_access_token"`
	}
	require.NoError(t, jsonUnmarshal(body, &reg))

	s.emulator.Inject(authletetest.Fault{Op: "get", Status: 503, Times: 1})
	s.emulator.Inject(authletetest.Fault{Op: "get", Drop: true, Times: 1})
	resp, _ = s.do(t, "GET", reg.URI, reg.Token, "")
	assert.Equal(t, 200, resp.StatusCode, "two failures, two retries")
	assert.Equal(t, 3, s.emulator.Calls("get"))

	s.emulator.Inject(authletetest.Fault{Op: "update", Status: 503, Times: 1})
	resp, _ = s.do(t, "PUT", reg.URI, reg.Token, `{}`)
	assert.Equal(t, 503, resp.StatusCode, "update is never retried")
	assert.Equal(t, 1, s.emulator.Calls("update"))
}

// TestClientDisconnectLetsAuthleteCallFinish: a client that hangs up
// while Authlete is still working does not cut the call short: Authlete
// creates the client, and the audit event says so.
func TestClientDisconnectLetsAuthleteCallFinish(t *testing.T) {
	noGoroutineLeft(t)
	events := make(chan dcr.Event, 1)
	s := newStack(t, dcr.Options{Audit: func(_ context.Context, e dcr.Event) { events <- e }}, nil)
	s.emulator.Inject(authletetest.Fault{Op: "register", Delay: 300 * time.Millisecond}) // then answers normally

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", s.server.URL+"/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := s.server.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return s.emulator.Calls("register") == 1 }, 5*time.Second, 5*time.Millisecond,
		"the call reaches Authlete")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	select {
	case e := <-events:
		assert.Equal(t, authlete.ActionCreated, e.Action, "%+v", e)
		assert.Equal(t, 201, e.Status)
		assert.NotEmpty(t, e.ClientID)
		assert.NoError(t, e.Err)
	case <-time.After(10 * time.Second):
		t.Fatal("no audit event")
	}
	assert.Equal(t, 1, s.emulator.Clients(), "Authlete created the client")
}

func TestSlowBodyIsCutOffByServerTimeout(t *testing.T) {
	noGoroutineLeft(t)
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: "{}"}}
	srv := &http.Server{Handler: newRouter(dcr.New(backend, dcr.Options{})), ReadTimeout: 300 * time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// Promise 100 bytes, send 2, then nothing.
	_, err = conn.Write([]byte("POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\""))
	require.NoError(t, err)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer := make([]byte, 4096)
	n, _ := conn.Read(answer)
	assert.Contains(t, string(answer[:n]), "400 Bad Request", "the handler gives up when the server's ReadTimeout ends the body")
	assert.Empty(t, backend.recorded())
}
