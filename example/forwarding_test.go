package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// recordingAuthlete is an Authlete emulator behind a recorder of every
// call's path and request body: what really reaches Authlete, whatever the
// emulator makes of it.
type recordingAuthlete struct {
	*authletetest.Emulator
	url   string
	mu    sync.Mutex
	calls []recordedCall
}

type recordedCall struct {
	path string
	req  authlete.Request
}

func newRecordingAuthlete(t *testing.T, opts authletetest.Options) *recordingAuthlete {
	t.Helper()
	a := &recordingAuthlete{Emulator: authletetest.New(opts)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req authlete.Request
		json.Unmarshal(body, &req)
		a.mu.Lock()
		a.calls = append(a.calls, recordedCall{r.URL.Path, req})
		a.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.Emulator.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// last returns the JSON of the last call whose path ends with suffix.
func (a *recordingAuthlete) last(t *testing.T, suffix string) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.calls) - 1; i >= 0; i-- {
		if strings.HasSuffix(a.calls[i].path, suffix) {
			return a.calls[i].req.JSON
		}
	}
	t.Fatalf("no call to %s reached Authlete", suffix)
	return ""
}

func (a *recordingAuthlete) env() map[string]string {
	o := a.Options()
	return map[string]string{"AUTHLETE_BASE_URL": a.url, "AUTHLETE_SERVICE_APIKEY": o.ServiceID, "AUTHLETE_SERVICE_ACCESSTOKEN": o.AccessToken}
}

type corpusEntry struct {
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata"`
}

func loadCorpus(t *testing.T) []corpusEntry {
	t.Helper()
	data, err := os.ReadFile("testdata/corpus.json")
	require.NoError(t, err)
	var corpus []corpusEntry
	require.NoError(t, json.Unmarshal(data, &corpus))
	require.NotEmpty(t, corpus)
	return corpus
}

// documentedChanges applies to m the changes that the example's policies
// document for env, and nothing else: NativeLoopback marks a client whose
// redirect URIs are all loopback http URIs native (when it names no
// application_type); DCR_ALLOWED_SCOPES drops the scopes it does not list;
// DCR_DEFAULT_SCOPE fills in a missing scope.
func documentedChanges(m map[string]any, env map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if uris, _ := out["redirect_uris"].([]any); len(uris) > 0 && out["application_type"] == nil {
		native := true
		for _, u := range uris {
			s := u.(string)
			native = native && (strings.HasPrefix(s, "http://localhost:") || strings.HasPrefix(s, "http://127.0.0.1:") || strings.HasPrefix(s, "http://[::1]:"))
		}
		if native {
			out["application_type"] = "native"
		}
	}
	if allowed := strings.Fields(env["DCR_ALLOWED_SCOPES"]); len(allowed) > 0 {
		if s, ok := out["scope"].(string); ok {
			var kept []string
			for _, scope := range strings.Fields(s) {
				if slices.Contains(allowed, scope) && !slices.Contains(kept, scope) {
					kept = append(kept, scope)
				}
			}
			if kept == nil {
				delete(out, "scope")
			} else {
				out["scope"] = strings.Join(kept, " ")
			}
		}
	}
	d := env["DCR_DEFAULT_SCOPE"]
	if allowed := strings.Fields(env["DCR_ALLOWED_SCOPES"]); d == "" && len(allowed) > 0 {
		d = strings.Join(allowed, " ") // the example's default without DCR_DEFAULT_SCOPE
	}
	if d != "" {
		if s, _ := out["scope"].(string); strings.TrimSpace(s) == "" {
			out["scope"] = d
		}
	}
	return out
}

// TestWhatReachesAuthlete sends a corpus of realistic registrations and
// updates through the example, for its default configuration and each
// documented setting, and compares the JSON that reaches Authlete member
// by member with what was sent: the only differences are those a
// configured policy documents.
func TestWhatReachesAuthlete(t *testing.T) {
	corpus := loadCorpus(t)
	configs := []map[string]string{
		{}, // the defaults
		{"DCR_DEFAULT_SCOPE": "mcp"},
		{"DCR_ALLOWED_SCOPES": "mcp offline_access"},
		{"DCR_ALLOWED_SCOPES": "mcp offline_access", "DCR_DEFAULT_SCOPE": "mcp"},
		{"DCR_ALLOWED_SCOPES": "  "},
		{"DCR_INITIAL_ACCESS_TOKEN": "iat-0123456789abcdef"},
		{"DCR_CORS_ORIGINS": "https://app.example", "DCR_RATE_LIMIT": "0", "DCR_MANAGEMENT_RATE_LIMIT": "0"},
		{"DCR_PUBLIC_URL": "https://dcr.test.example"},
	}
	for _, settings := range configs {
		name, _ := json.Marshal(settings)
		t.Run(string(name), func(t *testing.T) {
			a := newRecordingAuthlete(t, authletetest.Options{})
			env := a.env()
			for k, v := range settings {
				env[k] = v
			}
			base, logs := startExample(t, env)
			defer func() {
				if t.Failed() {
					printFailures(t, logs)
				}
			}()
			iat := settings["DCR_INITIAL_ACCESS_TOKEN"]
			for _, entry := range corpus {
				sent, err := json.Marshal(entry.Metadata)
				require.NoError(t, err)
				reg := send(t, "POST", base+"/register", iat, string(sent))
				require.Equal(t, 201, reg.status, "%s: %s", entry.Name, reg.raw)
				assertForwarded(t, entry.Name+" (register)", entry.Metadata, a.last(t, "/client/registration"), settings)

				id := reg.body["client_id"].(string)
				update := documentedChanges(entry.Metadata, nil)
				update["client_id"] = id
				if s, ok := reg.body["client_secret"].(string); ok {
					update["client_secret"] = s
				}
				update["client_name"] = "renamed " + entry.Name
				body, _ := json.Marshal(update)
				uri := base + "/register/" + id
				upd := send(t, "PUT", uri, reg.body["registration_access_token"].(string), string(body))
				require.Equal(t, 200, upd.status, "%s: %s", entry.Name, upd.raw)
				assertForwarded(t, entry.Name+" (update)", update, a.last(t, "/client/registration/update"), settings)
				if scope, ok := documentedChanges(update, settings)["scope"]; ok {
					assert.Equal(t, scope, upd.body["scope"], "%s: the client is told the scope it was registered with", entry.Name)
				}
			}
		})
	}
}

// assertForwarded compares, member by member, what reached Authlete with
// sent as the settings' policies document they change it.
func assertForwarded(t *testing.T, name string, sent map[string]any, reached string, settings map[string]string) {
	t.Helper()
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(reached), &got), name)
	want := documentedChanges(sent, settings)
	// Round-trip want through JSON so that numbers compare as float64 on
	// both sides.
	data, _ := json.Marshal(want)
	want = nil
	json.Unmarshal(data, &want)
	for k, v := range want {
		g, ok := got[k]
		if assert.True(t, ok, "%s: member %q did not reach Authlete", name, k) {
			assert.Equal(t, v, g, "%s: member %q", name, k)
		}
	}
	for k := range got {
		_, ok := want[k]
		assert.True(t, ok, "%s: member %q reached Authlete but was not sent", name, k)
	}
}
