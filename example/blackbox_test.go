package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// The black-box tests run the built example (and a race-built emulator, and
// a real redis-server) as an operator would, on 127.0.0.1.

func TestBlackBoxPublicURL(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, []string{"DCR_PUBLIC_URL=https://dcr.test.example/", "DCR_EMBEDDED_EMULATOR=true"}, "0.0.0.0:0")
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, reg.status, reg.raw)
	assert.True(t, strings.HasPrefix(reg.body["registration_client_uri"].(string), "https://dcr.test.example/register/"), reg.raw)
	assert.Contains(t, p.out.String(), "register=https://dcr.test.example/register ")
	assert.NotContains(t, p.out.String(), "registration_client_uri is not under", "the embedded emulator follows DCR_PUBLIC_URL")
	assert.Equal(t, 200, send(t, "GET", base+"/healthz", "", "").status)
	assert.Equal(t, 200, send(t, "GET", base+"/readyz", "", "").status)
}

// TestBlackBoxManagementEndpointMismatch: an Authlete service whose
// registrationManagementEndpoint is not the example's public URL is
// reported at the first registration.
func TestBlackBoxManagementEndpointMismatch(t *testing.T) {
	t.Parallel()
	emulator := authletetest.NewServer(t, authletetest.Options{ManagementEndpoint: "https://elsewhere.example/dcr"})
	base, p := startExampleBinary(t, append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_PUBLIC_URL=https://dcr.test.example"), "")
	require.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status)
	require.Equal(t, 201, send(t, "POST", base+"/register", "", `{}`).status)
	const warning = "registration_client_uri is not under this server's registration endpoint"
	p.waitFor(t, regexp.MustCompile(`(`+warning+`)`), 5*time.Second)
	assert.Equal(t, 1, strings.Count(p.out.String(), warning), "warned once")
	assert.Contains(t, p.out.String(), "setting=registrationManagementEndpoint", "and the service doctor said so at start-up")
}

// TestBlackBoxHangingAuthlete: with an Authlete that accepts connections
// and never answers, the example starts, is not ready, and answers a read
// with a JSON 5xx before its server would cut the connection.
func TestBlackBoxHangingAuthlete(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, conn); conn.Close() }() // read, never answer
		}
	}()
	base, p := startExampleBinary(t, emulatorEnv("http://"+ln.Addr().String(), "token"), "")
	assert.Contains(t, p.out.String(), "does not answer the start-up check")
	ready := send(t, "GET", base+"/readyz", "", "")
	assert.Equal(t, 503, ready.status)

	start := time.Now()
	read := send(t, "GET", base+"/register/12345", "some-registration-token", "")
	assert.Equal(t, 504, read.status, read.raw)
	assert.Equal(t, "server_error", read.body["error"])
	assert.Equal(t, "application/json", read.header.Get("Content-Type"))
	assert.Less(t, time.Since(start), 60*time.Second)
	t.Logf("read answered %d after %v", read.status, time.Since(start).Round(time.Millisecond))
}

// TestBlackBoxRefusedCredentials: a wrong service access token stops the
// example at start-up, naming the credentials.
func TestBlackBoxRefusedCredentials(t *testing.T) {
	t.Parallel()
	emulator := authletetest.NewServer(t, authletetest.Options{})
	for _, env := range [][]string{
		emulatorEnv(emulator.URL, "wrong-token"),
		append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "AUTHLETE_SERVICE_APIKEY=1234"),
	} {
		p := start(t, binary(t, ".", false), append(env, "DCR_PUBLIC_URL="), "-addr", "127.0.0.1:0")
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Fatal("the example did not stop within 20 s")
		}
		require.Error(t, p.err, "exit status")
		assert.Contains(t, p.out.String(), "Authlete refused the service credentials")
		assert.Contains(t, p.out.String(), "AUTHLETE_SERVICE_ACCESSTOKEN")
		assert.NotContains(t, p.out.String(), "serving DCR endpoints")
		assert.NotContains(t, p.out.String(), "wrong-token", "no secret in the log")
	}
}

// TestBlackBoxEmulatorRaceUnderGetAndPut: the race-built standalone
// emulator, behind the example, reports no data race while one client is
// read and updated at once.
func TestBlackBoxEmulatorRaceUnderGetAndPut(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	emu := start(t, binary(t, "github.com/dcr-go/dcr/cmd/authlete-emulator", true), []string{"GORACE=halt_on_error=1"}, "-addr", "127.0.0.1:"+port,
		"-management-endpoint", "http://127.0.0.1:1/register")
	emu.waitFor(t, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	base, _ := startExampleBinary(t, append(emulatorEnv("http://127.0.0.1:"+port, authletetest.DefaultAccessToken),
		"DCR_MANAGEMENT_RATE_LIMIT=0"), "")
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, reg.status, reg.raw)
	id, token := reg.body["client_id"].(string), reg.body["registration_access_token"].(string)
	uri := base + "/register/" + id
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if w%2 == 0 {
					method := []string{"none", "client_secret_basic"}[i%2]
					upd := send(t, "PUT", uri, token, `{"client_id":"`+id+`","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"`+method+`"}`)
					assert.Equal(t, 200, upd.status, upd.raw)
				} else {
					assert.Equal(t, 200, send(t, "GET", uri, token, "").status)
				}
			}
		}()
	}
	wg.Wait()
	assert.NotContains(t, emu.out.String(), "DATA RACE")
	select {
	case <-emu.done:
		t.Fatalf("the emulator stopped: %v", emu.err)
	default:
	}
}

// TestBlackBoxExampleHardening: the findings of the adversarial probe, on
// the built example.
func TestBlackBoxExampleHardening(t *testing.T) {
	t.Parallel()
	base, p := startExampleBinary(t, []string{"DCR_CORS_ORIGINS=https://a.example, https://b.example",
		"DCR_MANAGEMENT_RATE_LIMIT=5", "DCR_RATE_LIMIT=100"}, "")
	for _, origin := range []string{"https://a.example", "https://b.example"} {
		assert.Equal(t, origin, send(t, "POST", base+"/register", "", `{}`, "Origin", origin).header.Get("Access-Control-Allow-Origin"))
	}
	waitOutsideMinuteEdge()
	var last response
	for i := 0; i < 6; i++ {
		last = send(t, "GET", base+"/register/1?jwt=SECRET", "made-up-token", "")
		if i < 5 {
			assert.Equal(t, 401, last.status, "request %d", i+1)
		}
	}
	assert.Equal(t, 429, last.status)
	assert.NotEmpty(t, last.header.Get("Retry-After"))
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["ftp://evil.example/cb"]}`)
	assert.Equal(t, 201, reg.status, "registrations keep their own limit: %s", reg.raw)
	assert.NotEqual(t, "native", reg.body["application_type"])
	assert.NotContains(t, p.out.String(), "SECRET")
	assert.Contains(t, p.out.String(), "query=jwt ")
}

// TestBlackBoxSharedRateLimit: two replicas sharing one Redis and one
// Authlete enforce one limit; with Redis stopped, registrations go on.
func TestBlackBoxSharedRateLimit(t *testing.T) {
	t.Parallel()
	redisSrv := startRedis(t)
	emulator := authletetest.NewServer(t, authletetest.Options{})
	env := append(emulatorEnv(emulator.URL, authletetest.DefaultAccessToken), "DCR_RATE_LIMIT=4",
		"DCR_MANAGEMENT_RATE_LIMIT=3", "DCR_REDIS_URL="+redisSrv.url())
	a, pa := startExampleBinary(t, env, "")
	b, pb := startExampleBinary(t, env, "")

	waitOutsideMinuteEdge()
	var statuses []int
	for i := 0; i < 8; i++ {
		base := []string{a, b}[i%2]
		statuses = append(statuses, send(t, "POST", base+"/register", "", `{}`).status)
	}
	assert.Equal(t, []int{201, 201, 201, 201, 429, 429, 429, 429}, statuses, "one limit across the replicas")
	statuses = nil
	for i := 0; i < 6; i++ {
		base := []string{a, b}[i%2]
		statuses = append(statuses, send(t, "GET", base+"/register/12345", "made-up-token", "").status)
	}
	assert.Equal(t, []int{401, 401, 401, 429, 429, 429}, statuses, "the client configuration limit too, counted apart")

	redisSrv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, base := range []string{a, b} {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/register", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		// The replicas' memory has not counted the registrations that
		// Redis counted: each allows its own 4.
		assert.Equal(t, 201, resp.StatusCode, "replica %d with Redis stopped", i)
	}
	for _, p := range []*process{pa, pb} {
		p.waitFor(t, regexp.MustCompile(`(rate limit store failed)`), 5*time.Second)
	}
	metrics := send(t, "GET", a+"/metrics", "", "")
	assert.Regexp(t, `dcr_rate_limit_store_errors_total\{limit="register"\} [1-9]`, metrics.raw)
}

// TestBlackBoxServiceDoctor: started against the standalone emulator with
// unauthorizedOnClientConfigSupported and loopbackRedirectionUriVariable
// off, the example logs a warning naming each setting and its fix.
func TestBlackBoxServiceDoctor(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	emu := start(t, binary(t, "github.com/dcr-go/dcr/cmd/authlete-emulator", false), nil, "-addr", "127.0.0.1:"+port,
		"-bad-request-on-client-config", "-fixed-loopback-port", "-management-endpoint", "https://dcr.test.example/register")
	emu.waitFor(t, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	_, p := startExampleBinary(t, append(emulatorEnv("http://127.0.0.1:"+port, authletetest.DefaultAccessToken),
		"DCR_PUBLIC_URL=https://dcr.test.example"), "")
	log := p.out.String()
	assert.Regexp(t, `level=WARN msg="Authlete service setting breaks DCR clients" setting=unauthorizedOnClientConfigSupported .*fix="Turn on unauthorizedOnClientConfigSupported`, log)
	assert.Regexp(t, `level=WARN msg="Authlete service setting breaks DCR clients" setting=loopbackRedirectionUriVariable .*fix="Turn on loopbackRedirectionUriVariable`, log)
	assert.NotContains(t, log, "setting=registrationManagementEndpoint")
	assert.NotContains(t, log, "setting=dynamicRegistrationSupported")
}

// TestBlackBoxDoctorMCPSettings: the settings that break MCP clients, on
// the standalone emulator, reported by the example at start-up and by the
// built dcr-doctor.
func TestBlackBoxDoctorMCPSettings(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	emu := start(t, binary(t, "github.com/dcr-go/dcr/cmd/authlete-emulator", false), nil, "-addr", "127.0.0.1:"+port,
		"-duplicate-software-id-blocked", "-cimd", "-cimd-http-permitted", "-cimd-query-permitted", "-cimd-allowlist", "claude.ai",
		"-management-endpoint", "https://dcr.test.example/register")
	emu.waitFor(t, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	env := append(emulatorEnv("http://127.0.0.1:"+port, authletetest.DefaultAccessToken), "DCR_PUBLIC_URL=https://dcr.test.example")
	_, p := startExampleBinary(t, append(env, "DCR_ALLOWED_SCOPES=mcp offline_access"), "")
	log := p.out.String()
	for _, want := range []string{
		`level=ERROR msg="Authlete service setting breaks DCR clients" setting=dcrDuplicateSoftwareIdBlocked .*mcp-remote`,
		`level=WARN msg="Authlete service setting breaks DCR clients" setting=dcrScopeUsedAsRequestable `,
		`level=WARN msg="Authlete service setting breaks DCR clients" setting=httpAliasProhibited `,
		`level=WARN msg="Authlete service setting breaks DCR clients" setting=cimdHttpPermitted `,
		`level=WARN msg="Authlete service setting breaks DCR clients" setting=cimdQueryPermitted `,
		`level=WARN msg="Authlete service setting breaks DCR clients" setting=cimdMetadataPolicyEnabled `,
	} {
		assert.Regexp(t, want, log)
	}
	assert.NotContains(t, log, "setting=cimdAllowlist", "the allowlist is on and names a host")

	doctor := start(t, binary(t, "github.com/dcr-go/dcr/cmd/dcr-doctor", false), env, "-clamps-scopes")
	doctor.wait(t, 60*time.Second)
	assert.Error(t, doctor.err, "an error finding: exit status 1")
	assert.Contains(t, doctor.out.String(), "error: dcrDuplicateSoftwareIdBlocked:")
	assert.Contains(t, doctor.out.String(), "warning: dcrScopeUsedAsRequestable:")
	assert.Contains(t, doctor.out.String(), "1 setting(s) break DCR")
}

// TestBlackBoxJanitor: three clients registered through the example on the
// standalone emulator, one given a token; the janitor keeps that one and
// removes the others, at once or after a grace period.
func TestBlackBoxJanitor(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	emu := start(t, binary(t, "github.com/dcr-go/dcr/cmd/authlete-emulator", false), nil, "-addr", "127.0.0.1:"+port)
	emu.waitFor(t, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	env := emulatorEnv("http://127.0.0.1:"+port, authletetest.DefaultAccessToken)
	base, _ := startExampleBinary(t, env, "")
	authleteConfig := authlete.Config{BaseURL: "http://127.0.0.1:" + port,
		ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken}
	authleteClient, err := authlete.New(authleteConfig)
	require.NoError(t, err)

	type registered struct{ id, token string }
	registerThree := func() []registered {
		var out []registered
		for i := 0; i < 3; i++ {
			reg := send(t, "POST", base+"/register", "", `{"client_name":"Claude Code","redirect_uris":["http://localhost:5454/cb"]}`)
			require.Equal(t, 201, reg.status, reg.raw)
			out = append(out, registered{reg.body["client_id"].(string), reg.body["registration_access_token"].(string)})
		}
		_, err := authletetest.CreateToken(context.Background(), authleteConfig, out[0].id, "alice", []string{"mcp"})
		require.NoError(t, err)
		return out
	}
	status := func(c registered) int { return send(t, "GET", base+"/register/"+c.id, c.token, "").status }

	clients := registerThree()
	dry := runJanitor(t, env, "-older-than", "0", "-dry-run")
	assert.Contains(t, dry, "would delete "+clients[1].id)
	assert.Contains(t, dry, "would delete "+clients[2].id)
	assert.NotContains(t, dry, clients[0].id)
	assert.Contains(t, dry, "kept 1, locked 0, unlocked 0, deleted 2, skipped 0 (dry run: nothing changed)")
	for _, c := range clients {
		assert.Equal(t, 200, status(c), "the dry run changed nothing")
	}

	out := runJanitor(t, env, "-older-than", "0")
	assert.Contains(t, out, "delete "+clients[1].id)
	assert.Contains(t, out, "kept 1, locked 0, unlocked 0, deleted 2, skipped 0\n")
	assert.Equal(t, 200, status(clients[0]), "the client with a token is kept")
	assert.Equal(t, 401, status(clients[1]), "a deleted client's registration access token gets 401")
	assert.Equal(t, 401, status(clients[2]))

	// With a grace period: locked first, deleted by a later run.
	more := registerThree()
	locks := t.TempDir() + "/locks.json"
	out = runJanitor(t, env, "-older-than", "0", "-grace", "1s", "-lock-file", locks)
	assert.Contains(t, out, "lock "+more[1].id)
	assert.Contains(t, out, "lock "+more[2].id)
	assert.Equal(t, 401, status(more[1]), "a locked client cannot read its configuration")
	time.Sleep(1500 * time.Millisecond) // the grace period; only its lower bound matters
	out = runJanitor(t, env, "-older-than", "0", "-grace", "1s", "-lock-file", locks)
	assert.Contains(t, out, "delete "+more[1].id)
	assert.Contains(t, out, "delete "+more[2].id)
	assert.Contains(t, out, "kept 2, locked 0, unlocked 0, deleted 2, skipped 0\n")
	_, err = authleteClient.Admin().GetClient(context.Background(), more[1].id)
	assert.Error(t, err, "deleted")
	assert.Equal(t, 200, status(more[0]))
}
