package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// traceparentRecorder is an Authlete emulator that records the traceparent
// header of each call.
type traceparentRecorder struct {
	*authletetest.Emulator
	mu      sync.Mutex
	headers []string
}

func (t *traceparentRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.headers = append(t.headers, r.Header.Get("Traceparent"))
	t.mu.Unlock()
	t.Emulator.ServeHTTP(w, r)
}

func (t *traceparentRecorder) recorded() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.headers...)
}

// tracedStack is the example's router with tracing tr, in front of an
// emulator that records traceparent headers.
func tracedStack(t testing.TB, tr *tracing) (http.Handler, *traceparentRecorder) {
	rec := &traceparentRecorder{Emulator: authletetest.New(authletetest.Options{MaxClients: -1})}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	client, err := authlete.New(authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken, HTTPClient: tr.httpClient()})
	require.NoError(t, err)
	s := settings{CORSOrigins: []string{"*"}}
	return tr.handler(newRouter(client, s, slog.New(slog.DiscardHandler), newMetrics(), nil, nil)), rec
}

// TestTracingSpans: a registration is one trace, a server span and the
// client span of the Authlete call, whose traceparent reaches Authlete.
func TestTracingSpans(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tr := newTracing(sdktrace.WithSyncer(exporter))
	h, rec := tracedStack(t, tr)

	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
	require.Equal(t, 201, w.Code, w.Body.String())

	spans := exporter.GetSpans()
	require.Len(t, spans, 2, "%v", spans)
	byKind := map[trace.SpanKind]tracetest.SpanStub{}
	for _, s := range spans {
		byKind[s.SpanKind] = s
	}
	server, client := byKind[trace.SpanKindServer], byKind[trace.SpanKindClient]
	assert.Equal(t, "POST /register", server.Name)
	assert.Equal(t, "authlete /client/registration", client.Name)
	assert.Equal(t, server.SpanContext.TraceID(), client.SpanContext.TraceID(), "one trace")
	assert.Equal(t, server.SpanContext.SpanID(), client.Parent.SpanID(), "the Authlete call is a child of the request")
	require.Len(t, rec.recorded(), 1)
	assert.Equal(t, "00-"+client.SpanContext.TraceID().String()+"-"+client.SpanContext.SpanID().String()+"-01", rec.recorded()[0],
		"the traceparent of the client span reaches Authlete")

	// A client configuration request names its route without the ID.
	exporter.Reset()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/register/12345", nil))
	require.NotEmpty(t, exporter.GetSpans())
	assert.Equal(t, "GET /register/{client_id}", exporter.GetSpans()[0].Name)
}

// TestTracingOff: without OTEL_EXPORTER_OTLP_* nothing is wrapped, and no
// traceparent reaches Authlete.
func TestTracingOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := tracingFromEnv(t.Context())
	require.NoError(t, err)
	assert.False(t, tr.on())
	assert.Nil(t, tr.httpClient())
	h, rec := tracedStack(t, tr)
	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/register", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
	require.Equal(t, 201, w.Code)
	assert.Equal(t, []string{""}, rec.recorded())
}

// TestBlackBoxTracingOTLP runs the built example with the standard OTEL_*
// variables against an OTLP/HTTP endpoint and an Authlete emulator: the
// registration arrives as one trace of a server and a client span, and
// Authlete got the client span's traceparent.
func TestBlackBoxTracingOTLP(t *testing.T) {
	t.Parallel()
	receiver := &otlpReceiver{arrived: make(chan struct{}, 1)}
	otlp := httptest.NewServer(receiver)
	defer otlp.Close()
	rec := &traceparentRecorder{Emulator: authletetest.New(authletetest.Options{})}
	authleteSrv := httptest.NewServer(rec)
	defer authleteSrv.Close()

	base, p := startExampleBinary(t, append(emulatorEnv(authleteSrv.URL, authletetest.DefaultAccessToken),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_SERVICE_NAME=dcr-blackbox", "OTEL_BSP_SCHEDULE_DELAY=50",
		"OTEL_EXPORTER_OTLP_COMPRESSION=gzip"), "")
	assert.Regexp(t, regexp.MustCompile(`serving DCR endpoints.* tracing=true`), p.out.String())
	reg := send(t, "POST", base+"/register", "", `{"redirect_uris":["https://app.example/cb"]}`)
	require.Equal(t, 201, reg.status, reg.raw)

	var server, client *receivedSpan
	deadline := time.After(30 * time.Second)
	for server == nil || client == nil {
		select {
		case <-receiver.arrived:
		case <-deadline:
			t.Fatalf("no server and client span of the registration arrived: %+v", receiver.spans())
		}
		for _, s := range receiver.spans() {
			switch {
			case s.name == "POST /register" && s.kind == "SPAN_KIND_SERVER":
				server = &s
			case s.name == "authlete /client/registration" && s.kind == "SPAN_KIND_CLIENT":
				client = &s
			}
		}
	}
	assert.Equal(t, "dcr-blackbox", server.service, "OTEL_SERVICE_NAME")
	assert.Equal(t, server.traceID, client.traceID, "one trace")
	assert.Equal(t, server.spanID, client.parent)
	var traced bool
	for _, h := range rec.recorded() {
		traced = traced || strings.Contains(h, bytesHex(client.traceID))
	}
	assert.True(t, traced, "Authlete got the trace's traceparent: %v", rec.recorded())
}

func bytesHex(b []byte) string {
	var buf bytes.Buffer
	for _, c := range b {
		buf.WriteString("0123456789abcdef"[c>>4 : c>>4+1])
		buf.WriteString("0123456789abcdef"[c&15 : c&15+1])
	}
	return buf.String()
}

// BenchmarkTracing measures a registration through the example's router
// and the Authlete client over loopback HTTP: tracing off (the default,
// nothing wrapped) against tracing on with spans dropped by a sampler and
// with every span recorded. Compare them in one run.
func BenchmarkTracing(b *testing.B) {
	for _, bc := range []struct {
		name string
		tr   *tracing
	}{
		{"off", &tracing{}},
		{"on-not-sampled", newTracing(sdktrace.WithSampler(sdktrace.NeverSample()))},
		{"on-sampled", newTracing(sdktrace.WithSyncer(tracetest.NewNoopExporter()))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := tracedStack(b, bc.tr)
			body := `{"redirect_uris":["https://app.example/cb"]}`
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				req := httptest.NewRequest("POST", "/register", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.RemoteAddr = "192.0.2.1:1234"
				h.ServeHTTP(w, req)
				if w.Code != 201 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// TestBlackBoxOTLPCredentialsNeverLogged is a probe's finding (issue 25):
// an OTEL_EXPORTER_OTLP_HEADERS entry that the SDK cannot read ("x-api-key:
// KEY" with a colon, a bad percent-escape) was logged by the SDK with its
// value, which is usually a credential, and tracing went on without it;
// an OTLP endpoint that does not parse was printed with its user
// information. The example now refuses both at start-up without showing
// them.
func TestBlackBoxOTLPCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	endpoint := "http://127.0.0.1:" + freePort(t)
	for _, env := range [][]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_HEADERS=x-api-key: S3cretOtel"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_HEADERS=api-key=S3cretOtel%zz"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_HEADERS=x-team=ok,S3cretOtel"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_HEADERS=bad key=S3cretOtel"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + endpoint + "/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_HEADERS=Authorization Bearer S3cretOtel"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=http://u:S3cretOtel@[::1"},
	} {
		p := start(t, binary(t, ".", false), append([]string{"DCR_SHUTDOWN_DRAIN=0", "OTEL_EXPORTER_OTLP_ENDPOINT=",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_EXPORTER_OTLP_HEADERS=", "OTEL_EXPORTER_OTLP_TRACES_HEADERS="}, env...), "-addr", "127.0.0.1:0")
		p.wait(t, 30*time.Second)
		assert.Error(t, p.err, "%v: %s", env, p.out.String())
		assert.Contains(t, p.out.String(), "OTEL_EXPORTER_OTLP_", env)
		assert.NotContains(t, p.out.String(), "S3cretOtel", env)
	}
	// Headers the SDK reads start the example.
	base, p := startExampleBinary(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint,
		"OTEL_EXPORTER_OTLP_HEADERS=authorization=Basic%20dXNlcjpwYXNz, x-honeycomb-team = abc ,x-empty="}, "")
	assert.Equal(t, 200, send(t, "GET", base+"/healthz", "", "").status)
	assert.NotContains(t, p.out.String(), "parse headers")
}
