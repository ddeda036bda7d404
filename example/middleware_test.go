package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/dcr-go/dcr"
)

// BenchmarkLogRequests is the request log's share of a registration: the
// line of logRequests, with the audit event auditInto adds to it, written
// to /dev/null by slog.TextHandler and by the example's lineHandler,
// around a handler that answers at once. Compare them in one run.
//
//	go test -run X -bench LogRequests -benchmem
func BenchmarkLogRequests(b *testing.B) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{{"text", slog.NewTextHandler(devNull, nil)}, {"line", newLineHandler(devNull)}} {
		b.Run(bc.name, func(b *testing.B) {
			h := loggedRouter(slog.New(bc.h))
			req := httptest.NewRequest("POST", "/register", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			w := discardWriter{http.Header{}}
			b.ReportAllocs()
			before := processCPU(b)
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
			reportCPU(b, before)
		})
	}
}

// loggedRouter is a router with the example's request log and a
// registration that answers at once, with its audit event.
func loggedRouter(logger *slog.Logger) http.Handler {
	audit := auditInto(newMetrics())
	event := dcr.Event{Op: "register", Status: http.StatusCreated, Action: "CREATED", ResultCode: "A031001",
		ClientID: "2563577125", Duration: 3 * time.Millisecond}
	r := chi.NewRouter()
	r.Use(middleware.ClientIPFromRemoteAddr)
	r.Use(logRequests(logger))
	r.Post("/register", func(w http.ResponseWriter, r *http.Request) {
		audit(r.Context(), event)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"client_id":"2563577125"}`)
	})
	return r
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ header http.Header }

func (w discardWriter) Header() http.Header       { return w.header }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
