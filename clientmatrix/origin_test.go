package clientmatrix

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
