package main

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authletetest"
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
	a, _ := startExampleBinary(t, env, "")
	b, _ := startExampleBinary(t, env, "")
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

	// A mistyped invocation changes nothing.
	p := start(t, iatBin, []string{"DCR_REDIS_URL=" + redisSrv.url()}, "issue", "-uses", "0", "-expires", "1h")
	p.wait(t, 30*time.Second)
	assert.Error(t, p.err)
	assert.Contains(t, p.out.String(), "-uses N (1 or more)")
}
