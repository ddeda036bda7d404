package dcr_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/policy"
)

// benchResponses are the answers of the in-process backend of the
// benchmarks, which answers at once, so that they measure the handler alone.
var benchResponses = map[string]*authlete.Response{
	"register": {Action: authlete.ActionCreated, ResponseContent: content},
	"get":      {Action: authlete.ActionOK, ResponseContent: content},
	"update":   {Action: authlete.ActionUpdated, ResponseContent: content},
	"delete":   {Action: authlete.ActionDeleted},
}

var benchBackend = backendFunc(func(_ context.Context, op string, _ *authlete.Request) (*authlete.Response, error) {
	return benchResponses[op], nil
})

// baseline is the same work written as the shortest hand-written handler:
// read the body, call the backend, copy responseContent and the headers.
// It checks nothing.
func baseline(backend dcr.Backend) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("client_id")
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		var resp *authlete.Response
		var err error
		status := http.StatusOK
		switch r.Method {
		case http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			resp, err = backend.Register(r.Context(), &authlete.Request{JSON: string(body), Token: token})
			status = http.StatusCreated
		case http.MethodGet:
			resp, err = backend.Get(r.Context(), &authlete.Request{ClientID: id, Token: token})
		case http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			resp, err = backend.Update(r.Context(), &authlete.Request{ClientID: id, Token: token, JSON: string(body)})
		case http.MethodDelete:
			resp, err = backend.Delete(r.Context(), &authlete.Request{ClientID: id, Token: token})
			status = http.StatusNoContent
		}
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h := w.Header()
		if status != http.StatusNoContent {
			h.Set("Content-Type", "application/json")
		}
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		w.WriteHeader(status)
		io.WriteString(w, resp.ResponseContent)
	})
}

// discard is a ResponseWriter that keeps nothing but its reused header.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchmark(b *testing.B, h http.Handler, op operation) {
	r := op.request()
	r.SetPathValue("client_id", strings.TrimPrefix(strings.TrimPrefix(op.path, "/register"), "/"))
	body := []byte(op.body)
	reader := bytes.NewReader(body)
	r.Body = io.NopCloser(reader)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reader.Reset(body)
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHandler and BenchmarkBaseline run the same requests; compare
// them per operation (see README: Performance).
func BenchmarkHandler(b *testing.B) {
	h := dcr.New(benchBackend, dcr.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, op := range operations {
		b.Run(op.name, func(b *testing.B) { benchmark(b, h, op) })
	}
}

func BenchmarkBaseline(b *testing.B) {
	h := baseline(benchBackend)
	for _, op := range operations {
		b.Run(op.name, func(b *testing.B) { benchmark(b, h, op) })
	}
}

// hostileBodies are bodies an unauthenticated client can send that cost
// more than a registration should, beside the normal one they are
// compared with: nested 9,990 levels deep (20 KB), and a 64 KB scope.
var hostileBodies = []struct{ name, body string }{
	{"normal", metadata},
	{"deep", `{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}`},
	{"long scope", `{"redirect_uris":["http://127.0.0.1:33418/callback"],"scope":"` + strings.TrimSpace(strings.Repeat("mcp ", 16000)) + `"}`},
}

// BenchmarkHostileBody runs a PUT (no token is checked before Authlete)
// of each hostile body through a Handler with the MCP policies, and
// reports its cost as a multiple of the normal body's (x-normal): the
// limits of MaxMetadataDepth and MaxMetadataStringBytes refuse them
// before any policy decodes them.
func BenchmarkHostileBody(b *testing.B) {
	h := dcr.New(benchBackend, dcr.Options{Logger: slog.New(slog.DiscardHandler), Policies: []dcr.Policy{
		policy.DefaultScope("mcp"), policy.AllowedScopes("mcp", "offline_access"), policy.NativeLoopback(),
		policy.SafeURIs(policy.SafeURIOptions{}),
	}})
	run := func(b *testing.B, body string) {
		benchmark(b, h, operation{"update", http.MethodPut, "/register/" + clientID, body, call{}})
	}
	var normal float64 // ns/op of the normal body, the first one run
	for _, hb := range hostileBodies {
		b.Run(hb.name, func(b *testing.B) {
			run(b, hb.body)
			nsPerOp := float64(b.Elapsed()) / float64(b.N)
			if hb.name == "normal" {
				normal = nsPerOp
			}
			b.ReportMetric(nsPerOp/normal, "x-normal")
		})
	}
}
