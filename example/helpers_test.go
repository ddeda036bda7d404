package main

// The helpers the tests share: building and running the example and
// the other commands (binary, start, startExampleBinary, startExample),
// talking to it (send), a real redis-server (startRedis), and an OTLP
// receiver (otlpReceiver).

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/dcr-go/dcr/authletetest"
)

var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// binary builds the command pkg once per test binary, with the race
// detector when race is true.
func binary(t testing.TB, pkg string, race bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := fmt.Sprint(pkg, race)
	if bin, ok := built[key]; ok {
		return bin
	}
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "dcr-blackbox-")
		require.NoError(t, err)
		builtDir = dir
	}
	bin := filepath.Join(builtDir, fmt.Sprintf("bin%d", len(built)))
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, out)
	built[key] = bin
	return bin
}

// process is a running command whose output is kept, and printed when the
// test fails.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func start(t testing.TB, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s %v:\n%s", filepath.Base(bin), args, p.out.String())
		}
	})
	return p
}

// wait waits for the process to end, failing the test if it does not
// within timeout.
func (p *process) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("the process did not end within %v:\n%s", timeout, p.out.String())
	}
}

// waitFor waits until the output matches re and returns the first group.
func (p *process) waitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("the process ended (%v) before printing %s:\n%s", p.err, re, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %s within %v:\n%s", re, timeout, p.out.String())
	return ""
}

var listenRE = regexp.MustCompile(`serving DCR endpoints.* listen=(\S+)`)

// startExampleBinary runs the built example on a free port of 127.0.0.1
// (or addr) and returns its local base URL.
func startExampleBinary(t testing.TB, env []string, addr string) (string, *process) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	env = append([]string{"AUTHLETE_BASE_URL=", "AUTHLETE_API_VERSION=", "AUTHLETE_SERVICE_APIKEY=", "AUTHLETE_SERVICE_APISECRET=",
		"AUTHLETE_SERVICE_ACCESSTOKEN=", "DCR_PUBLIC_URL=", "DCR_REDIS_URL=", "DCR_RATE_LIMIT=", "DCR_MANAGEMENT_RATE_LIMIT=",
		"DCR_RATE_LIMIT_NETWORKS=", "DCR_RATE_LIMIT_GLOBAL=",
		"DCR_INITIAL_ACCESS_TOKEN=", "DCR_CORS_ORIGINS=", "DCR_TRUSTED_PROXIES=", "DCR_METRICS_ADDR=", "DCR_EMBEDDED_EMULATOR=",
		"DCR_DEFAULT_SCOPE=", "DCR_ALLOWED_SCOPES=", "DCR_INFO_URIS_ON_REDIRECT_HOST=", "DCR_METADATA_POLICY=", "DCR_IAT_STORE=",
		"DCR_SOFTWARE_STATEMENT_ISSUERS=", "DCR_SOFTWARE_STATEMENT_REQUIRED=",
		"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
		"DCR_SHUTDOWN_DRAIN=0"}, env...) // the last value of a variable wins
	p := start(t, binary(t, ".", false), env, "-addr", addr)
	listen := p.waitFor(t, listenRE, 30*time.Second)
	_, port, err := net.SplitHostPort(listen)
	require.NoError(t, err)
	return "http://127.0.0.1:" + port, p
}

func emulatorEnv(url, token string) []string {
	return []string{"AUTHLETE_BASE_URL=" + url, "AUTHLETE_API_VERSION=V3",
		"AUTHLETE_SERVICE_APIKEY=" + authletetest.DefaultServiceID, "AUTHLETE_SERVICE_ACCESSTOKEN=" + token}
}

// waitOutsideMinuteEdge waits, if need be, so that a test of a per-minute
// limit does not straddle two of httprate's windows.
func waitOutsideMinuteEdge() {
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// redisServer is a real redis-server on 127.0.0.1.
type redisServer struct {
	t    testing.TB
	port string
	args []string
	p    *process
}

func startRedis(t testing.TB, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DCR_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is not installed (apt-get install -y redis-server); scripts/test.sh installs it")
		}
		t.Skip("redis-server is not installed; scripts/test.sh installs it")
	}
	r := &redisServer{t: t, port: freePort(t), args: args}
	r.start(bin)
	return r
}

func (r *redisServer) start(bin string) {
	r.p = start(r.t, bin, nil, append([]string{"--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, r.args...)...)
	r.p.waitFor(r.t, regexp.MustCompile(`(Ready to accept connections)`), 20*time.Second)
}

func (r *redisServer) stop() {
	r.p.cmd.Process.Kill()
	<-r.p.done
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

// runJanitor runs the built dcr-janitor to its end and returns its output.
func runJanitor(t *testing.T, env []string, args ...string) string {
	t.Helper()
	p := start(t, binary(t, "github.com/dcr-go/dcr/cmd/dcr-janitor", false), env, args...)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("dcr-janitor did not finish")
	}
	require.NoError(t, p.err, p.out.String())
	return p.out.String()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startExample runs the example on 127.0.0.1 with env set and no AUTHLETE_*
// settings, and returns its base URL and its log.
func startExample(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	for _, k := range []string{"AUTHLETE_BASE_URL", "AUTHLETE_API_VERSION", "AUTHLETE_SERVICE_APIKEY",
		"AUTHLETE_SERVICE_APISECRET", "AUTHLETE_SERVICE_ACCESSTOKEN"} {
		t.Setenv(k, env[k])
	}
	for _, d := range declared {
		t.Setenv(d.Name, env[d.Name])
	}
	// No drain period unless the test asks for one: its cleanup stops
	// the example at once.
	t.Setenv("DCR_SHUTDOWN_DRAIN", cmp.Or(env["DCR_SHUTDOWN_DRAIN"], "0"))
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", slog.New(slog.NewJSONHandler(logs, nil)), func(u string) { ready <- u })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("the example did not stop")
		}
	})
	select {
	case u := <-ready:
		return u, logs
	case err := <-done:
		t.Fatalf("the example did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the example did not start in time")
	}
	return "", nil
}

// printFailures logs the example's log lines of level WARN and above, and
// the first lines of the rest, so that a failed test shows its cause.
func printFailures(t *testing.T, logs *syncBuffer) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	shown := 0
	for _, line := range lines {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
			if shown++; shown <= 50 {
				t.Log("example: " + line)
			}
		}
	}
	t.Logf("example: %d log lines, %d at WARN or above", len(lines), shown)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func send(t *testing.T, method, url, token, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if len(data) > 0 {
		json.Unmarshal(data, &r.body)
	}
	return r
}

// otlpReceiver is an OTLP/HTTP trace endpoint (protobuf, as the SDK's
// exporter sends it): it keeps the spans it receives.
type otlpReceiver struct {
	mu       sync.Mutex
	requests []*collectortrace.ExportTraceServiceRequest
	arrived  chan struct{}
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	data, _ := io.ReadAll(body)
	req := new(collectortrace.ExportTraceServiceRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests = append(o.requests, req)
	o.mu.Unlock()
	select {
	case o.arrived <- struct{}{}:
	default:
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

type receivedSpan struct {
	service, name, kind string
	traceID, spanID     []byte
	parent              []byte
}

func (o *otlpReceiver) spans() []receivedSpan {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []receivedSpan
	for _, req := range o.requests {
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, receivedSpan{service, s.Name, s.Kind.String(), s.TraceId, s.SpanId, s.ParentSpanId})
				}
			}
		}
	}
	return out
}
