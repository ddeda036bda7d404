package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"

	"github.com/dcr-go/dcr/authlete"
)

// tracing is OpenTelemetry as the example uses it: a server span for each
// request and a client span for each Authlete call, which carries the
// traceparent header to Authlete. The zero value is tracing off, at no
// cost: nothing is wrapped.
type tracing struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// otelUsage is the -h text of the OTEL_* variables that tracingFromEnv
// and the SDK read.
const otelUsage = `  OTEL_EXPORTER_OTLP_ENDPOINT   if set (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), export traces over OTLP/HTTP;
                                the other OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS,
                                OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...) are honoured; a header entry of
                                OTEL_EXPORTER_OTLP_HEADERS or OTEL_EXPORTER_OTLP_TRACES_HEADERS that is not
                                key=value, the value percent-encoded, stops start-up
`

// tracingFromEnv exports traces over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
// the exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers,
// timeout, compression, certificates), the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, and the sampler OTEL_TRACES_SAMPLER and its
// argument. OTEL_SDK_DISABLED=true turns it off.
func tracingFromEnv(ctx context.Context) (*tracing, error) {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" ||
		os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return &tracing{}, nil
	}
	if err := checkOTLPEnv(); err != nil {
		return nil, err
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(semconv.ServiceName(serviceName())))
	if err != nil {
		return nil, err
	}
	fromEnv, err := resource.New(ctx, resource.WithFromEnv())
	if err == nil {
		res, _ = resource.Merge(res, fromEnv)
	}
	return newTracing(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}

// checkOTLPEnv refuses the OTEL_EXPORTER_OTLP_* endpoints and headers
// that the exporter cannot read, without showing what may be a
// credential: the SDK logs a header entry it cannot read with its value
// (an API key, often) and exports without it, and a URL that does not
// parse may hold a user and password.
func checkOTLPEnv() error {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		v := os.Getenv(name)
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			shown := strconv.Quote(v)
			if strings.Contains(v, "@") {
				shown = "(not shown: it has user information)"
			}
			return fmt.Errorf("%s %s is not an http or https URL, such as http://otel-collector:4318", name, shown)
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		for i, entry := range strings.Split(v, ",") {
			key, value, found := strings.Cut(entry, "=")
			if _, err := url.PathUnescape(value); !found || !httpguts.ValidHeaderFieldName(strings.TrimSpace(key)) || err != nil {
				return fmt.Errorf("%s: entry %d is not key=value, the value percent-encoded (it is not shown: it may be a credential)", name, i+1)
			}
		}
	}
	return nil
}

// serviceName is OTEL_SERVICE_NAME, or dcr-example.
func serviceName() string {
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		return v
	}
	return "dcr-example"
}

// newTracing returns tracing with a provider of its own (no global state).
// The sampler is the SDK's default, which honours OTEL_TRACES_SAMPLER.
func newTracing(opts ...sdktrace.TracerProviderOption) *tracing {
	tp := sdktrace.NewTracerProvider(opts...)
	return &tracing{provider: tp, propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown: tp.Shutdown}
}

func (t *tracing) on() bool { return t.provider != nil }

// handler wraps the server's handler: one server span per request.
func (t *tracing) handler(h http.Handler) http.Handler {
	if !t.on() {
		return h
	}
	return otelhttp.NewHandler(h, "dcr", otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + routeOf(r) }))
}

// httpClient is authlete.Config.HTTPClient: nil when tracing is off, else
// the package's own transport wrapped for one client span per call.
func (t *tracing) httpClient() *http.Client {
	if !t.on() {
		return nil
	}
	return &http.Client{Transport: otelhttp.NewTransport(authlete.NewTransport(0),
		otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "authlete " + authleteOp(r.URL.Path) }))}
}

// close flushes the spans not yet exported.
func (t *tracing) close(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// routeOf is the route of r without its client ID, for span names.
func routeOf(r *http.Request) string {
	switch p := r.URL.Path; {
	case p == "/register":
		return "/register"
	case strings.HasPrefix(p, "/register/"):
		return "/register/{client_id}"
	default:
		return p
	}
}

// authleteOp is the Authlete API path without /api and the service ID,
// e.g. /client/registration/get.
func authleteOp(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/")
	if !ok {
		return path
	}
	if id, after, found := strings.Cut(rest, "/"); found && strings.Trim(id, "0123456789") == "" {
		rest = after // API v3: /api/{serviceId}/...
	}
	return "/" + rest
}
