package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// exchange is one call the authlete package made, and the answer it got.
type exchange struct {
	method, path string
	header       http.Header
	reqBody      []byte
	status       int
	respHeader   http.Header
	respBody     []byte
}

func (e exchange) String() string {
	return fmt.Sprintf("%s %s %s -> %d %s", e.method, e.path, e.reqBody, e.status, e.respBody)
}

// recorder is an http.RoundTripper that records every exchange.
type recorder struct {
	mu        sync.Mutex
	exchanges []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	r.mu.Lock()
	r.exchanges = append(r.exchanges, exchange{req.Method, req.URL.RequestURI(), req.Header.Clone(), body, resp.StatusCode, resp.Header.Clone(), respBody})
	r.mu.Unlock()
	return resp, nil
}

// spec loads Authlete's OpenAPI document once.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	return loader.LoadFromFile("testdata/authlete-openapi.yaml")
})

// specGaps are the answers the specification does not describe, which the
// project answers as Authlete does in practice (docs/emulator.md): the
// status of an operation whose responses leave it out.
var specGaps = map[string]string{
	"GET /client/get/{clientId} 404":                       "an unknown client: the spec lists no 404 for client/get",
	"DELETE /client/delete/{clientId} 404":                 "an unknown client: the spec lists no 404 for client/delete",
	"POST /client/lock_flag/update/{clientIdentifier} 404": "an unknown client: the spec lists no 404 for client/lock_flag/update",
	"POST /client/registration/get 429":                    "rate limiting: the spec documents no 429",
	"GET /service/get 429":                                 "rate limiting: the spec documents no 429",
	"POST /client/registration 503":                        "unavailable: the spec documents no 503",
}

// validate checks every exchange of rec against the specification, with
// the API served at baseURL.
func validate(t *testing.T, baseURL string, rec *recorder) (checked, gaps int) {
	t.Helper()
	doc, err := spec()
	require.NoError(t, err)
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	// The document's own examples do not all match its schemas (SOURCE.md):
	// they are not what is checked here.
	router, err := legacyrouter.NewRouter(doc, openapi3.DisableExamplesValidation())
	require.NoError(t, err)
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
				return fmt.Errorf("no bearer service access token")
			}
			return nil
		},
	}
	serviceRE := regexp.MustCompile(`^/api/\d+`)
	for _, ex := range rec.exchanges {
		req, err := http.NewRequest(ex.method, baseURL+ex.path, bytes.NewReader(ex.reqBody))
		require.NoError(t, err)
		req.Header = ex.header.Clone()
		route, params, err := router.FindRoute(req)
		if !assert.NoError(t, err, "no operation of the spec for %s", ex) {
			continue
		}
		gap := ex.method + " " + strings.TrimPrefix(route.Path, "/api/{serviceId}") + " " + strconv.Itoa(ex.status)
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		assert.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "request %s", ex)
		if why, ok := specGaps[gap]; ok {
			t.Logf("spec gap, not validated: %s (%s)", gap, why)
			gaps++
			continue
		}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: ex.status, Header: ex.respHeader,
			Body: io.NopCloser(bytes.NewReader(ex.respBody)), Options: opts,
		})
		assert.NoError(t, err, "answer to %s", serviceRE.ReplaceAllString(ex.String(), "/api/{serviceId}"))
		checked++
	}
	return checked, gaps
}

// scenario makes every call the project makes of Authlete, with the
// answers of success and of failure, through c against the emulator at
// baseURL.
func scenario(t *testing.T, cfg authlete.Config, inject func(authletetest.Fault)) {
	// inject is nil for an emulator in another process.
	t.Helper()
	ctx := context.Background()
	c, err := authlete.New(cfg)
	require.NoError(t, err)
	must := func(resp *authlete.Response, err error) *authlete.Response {
		t.Helper()
		require.NoError(t, err)
		return resp
	}
	var client struct {
		ID    string `json:"client_id"`
		Token string `json:"registration_access_token"`
		URI   string `json:"registration_client_uri"`
	}
	reg := must(c.Register(ctx, &authlete.Request{JSON: `{"client_name":"MCP Inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none","scope":"mcp","grant_types":["authorization_code","refresh_token"]}`}))
	require.Equal(t, authlete.ActionCreated, reg.Action, reg.ResponseContent)
	require.NoError(t, json.Unmarshal([]byte(reg.ResponseContent), &client))
	secret := must(c.Register(ctx, &authlete.Request{JSON: `{"client_name":"web","redirect_uris":["https://app.example/cb"],"contacts":["ops@app.example"],"client_name#ja":"ウェブ"}`}))
	require.Equal(t, authlete.ActionCreated, secret.Action)
	machine := must(c.Register(ctx, &authlete.Request{JSON: `{"client_name":"exporter","grant_types":["client_credentials"],"response_types":[]}`}))
	require.Equal(t, authlete.ActionCreated, machine.Action, machine.ResponseContent)
	assert.Equal(t, authlete.ActionBadRequest, must(c.Register(ctx, &authlete.Request{JSON: `{"redirect_uris":["https://app.example/cb#x"]}`})).Action)
	assert.Equal(t, authlete.ActionBadRequest, must(c.Register(ctx, &authlete.Request{JSON: `{"redirect_uris":["https://app.example/cb"],"response_types":["code code"]}`})).Action)

	assert.Equal(t, authlete.ActionOK, must(c.Get(ctx, &authlete.Request{ClientID: client.ID, Token: client.Token})).Action)
	assert.Equal(t, authlete.ActionUnauthorized, must(c.Get(ctx, &authlete.Request{ClientID: client.ID, Token: "wrong-token"})).Action)
	update := `{"client_id":"` + client.ID + `","registration_client_uri":"` + client.URI + `","client_name":"renamed","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none","scope":"mcp"}`
	assert.Equal(t, authlete.ActionUpdated, must(c.Update(ctx, &authlete.Request{ClientID: client.ID, Token: client.Token, JSON: update})).Action)
	assert.Equal(t, authlete.ActionBadRequest, must(c.Update(ctx, &authlete.Request{ClientID: client.ID, Token: client.Token, JSON: `{"client_id":"1"}`})).Action)
	assert.Equal(t, authlete.ActionUnauthorized, must(c.Update(ctx, &authlete.Request{ClientID: client.ID, Token: "wrong-token", JSON: `{}`})).Action)
	require.NoError(t, c.Check(ctx))

	page, err := c.Admin().ListClients(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, page.Clients, 3)
	id := strconv.FormatInt(page.Clients[0].ClientID, 10)
	_, err = c.Admin().GetClient(ctx, id)
	require.NoError(t, err)
	_, err = c.Admin().GetClient(ctx, "10000000000001")
	assert.Error(t, err)
	require.NoError(t, c.Admin().LockClient(ctx, id, true))
	require.NoError(t, c.Admin().LockClient(ctx, id, false))
	assert.Error(t, c.Admin().LockClient(ctx, "10000000000001", true))
	_, err = authletetest.CreateToken(ctx, cfg, page.Clients[0].ID(), "alice", []string{"mcp"})
	require.NoError(t, err)
	_, err = authletetest.CreateToken(ctx, cfg, page.Clients[0].ID(), "alice", nil)
	require.NoError(t, err)
	_, err = c.Admin().ListTokens(ctx, id, 0, 10)
	require.NoError(t, err)
	_, err = c.Admin().Service(ctx)
	require.NoError(t, err)

	assert.Equal(t, authlete.ActionDeleted, must(c.Delete(ctx, &authlete.Request{ClientID: client.ID, Token: client.Token})).Action)
	assert.Equal(t, authlete.ActionUnauthorized, must(c.Delete(ctx, &authlete.Request{ClientID: client.ID, Token: client.Token})).Action)
	require.NoError(t, c.Admin().DeleteClient(ctx, strconv.FormatInt(page.Clients[1].ClientID, 10)))
	assert.Error(t, c.Admin().DeleteClient(ctx, "10000000000001"))

	if inject == nil {
		return
	}
	// Authlete's own refusals.
	inject(authletetest.Fault{Op: "register", Status: 500, Times: 1})
	_, err = c.Register(ctx, &authlete.Request{JSON: `{}`})
	assert.Error(t, err)
	inject(authletetest.Fault{Op: "get", Status: 429, RetryAfter: "1", Times: 1})
	_, err = c.Get(ctx, &authlete.Request{ClientID: "1", Token: "t"})
	assert.Error(t, err)
	inject(authletetest.Fault{Op: "service/get", Status: 403, Times: 1})
	_, err = c.Admin().Service(ctx)
	assert.Error(t, err)
	inject(authletetest.Fault{Op: "register", Action: authlete.ActionInternalServerError, ResponseContent: `{"error":"server_error"}`, Times: 1})
	must(c.Register(ctx, &authlete.Request{JSON: `{}`}))
}

// newConfig is the Config of a client of the service at baseURL whose
// calls rec records.
func newConfig(baseURL string, rec *recorder, accessToken string) authlete.Config {
	return authlete.Config{BaseURL: baseURL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: accessToken, HTTPClient: &http.Client{Transport: rec}, Retries: -1}
}

func newClient(t *testing.T, baseURL string, rec *recorder, accessToken string) *authlete.Client {
	t.Helper()
	c, err := authlete.New(newConfig(baseURL, rec, accessToken))
	require.NoError(t, err)
	return c
}

// TestAuthletetestConforms: the authlete package's requests and the
// authletetest emulator's answers, against the specification.
func TestAuthletetestConforms(t *testing.T) {
	srv := authletetest.NewServer(t, authletetest.Options{})
	rec := &recorder{}
	scenario(t, newConfig(srv.URL, rec, authletetest.DefaultAccessToken), srv.Inject)
	// A wrong service access token: Authlete's 401.
	bad := newClient(t, srv.URL, rec, "wrong-service-token")
	_, err := bad.Register(context.Background(), &authlete.Request{JSON: `{}`})
	assert.Error(t, err)

	checked, gaps := validate(t, srv.URL, rec)
	t.Logf("%d exchanges: %d validated against the specification, %d of a documented spec gap", len(rec.exchanges), checked, gaps)
	assert.Equal(t, len(rec.exchanges), checked+gaps)
	assert.GreaterOrEqual(t, checked, 25)
}

// TestStandaloneEmulatorConforms: the same against the built
// cmd/authlete-emulator.
func TestStandaloneEmulatorConforms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := filepath.Join(t.TempDir(), "authlete-emulator")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/dcr-go/dcr/cmd/authlete-emulator").CombinedOutput()
	require.NoError(t, err, "%s", out)
	port := freePort(t)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:"+port)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/x")
		if err == nil {
			resp.Body.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "the emulator did not start: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
	rec := &recorder{}
	scenario(t, newConfig(base, rec, authletetest.DefaultAccessToken), nil) // no faults from outside the process
	checked, gaps := validate(t, base, rec)
	t.Logf("%d exchanges: %d validated against the specification, %d of a documented spec gap", len(rec.exchanges), checked, gaps)
	assert.Equal(t, len(rec.exchanges), checked+gaps)
	assert.GreaterOrEqual(t, checked, 20)
}
