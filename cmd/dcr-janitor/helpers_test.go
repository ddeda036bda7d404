package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

// authleteWithHook serves em on 127.0.0.1, and calls onLock first with
// each lock call (client/lock_flag/update with clientLocked true), its
// body read; onLock answers the call itself when it returns true.
type authleteWithHook struct {
	em     *authletetest.Emulator
	srv    *httptest.Server
	onLock func(w http.ResponseWriter, r *http.Request, id string) bool
}

func newAuthleteWithHook(t *testing.T, onLock func(w http.ResponseWriter, r *http.Request, id string) bool) *authleteWithHook {
	a := &authleteWithHook{em: authletetest.New(authletetest.Options{MaxClients: -1}), onLock: onLock}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/client/lock_flag/update/") && a.onLock != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				ClientLocked bool `json:"clientLocked"`
			}
			if json.Unmarshal(body, &req) == nil && req.ClientLocked && a.onLock(w, r, path.Base(r.URL.Path)) {
				return
			}
		}
		a.em.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authleteWithHook) config() authlete.Config {
	return authlete.Config{BaseURL: a.srv.URL, APIVersion: authlete.V3,
		ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken}
}

func (a *authleteWithHook) client(t testing.TB) *authlete.Client {
	c, err := authlete.New(a.config())
	require.NoError(t, err)
	return c
}

// register registers n clients.
func (a *authleteWithHook) register(t testing.TB, n int) {
	c := a.client(t)
	for range n {
		_, err := c.Register(context.Background(), &authlete.Request{JSON: `{"client_name":"Claude"}`})
		require.NoError(t, err)
	}
}

// lockedAtAuthlete lists the clients locked at Authlete.
func (a *authleteWithHook) lockedAtAuthlete(t testing.TB) []string {
	page, err := a.client(t).Admin().ListClients(context.Background(), 0, 10000)
	require.NoError(t, err)
	var ids []string
	for _, c := range page.Clients {
		if c.Locked {
			ids = append(ids, strconv.FormatInt(c.ClientID, 10))
		}
	}
	return ids
}

func recorded(t testing.TB, file string) []string {
	locks, err := lifecycle.FileLocks(file).Load()
	require.NoError(t, err)
	var ids []string
	for id := range locks {
		ids = append(ids, id)
	}
	return ids
}
