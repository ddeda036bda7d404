package dcr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// logSink is where every Handler of this package's tests logs: the
// default logger (for Handlers without Options.Logger) and sinkLogger.
// It knows every token the tests send or are issued (send, stack.do and
// the tests that issue initial access tokens tell it) and fails the test
// whose log holds one; TestMain fails the run if any log record of the
// whole suite does, whenever its token became known.
var logSink = &sink{secrets: map[string]bool{}}

// sink keeps the formatted log records of the suite and the tokens that
// must never be in them.
type sink struct {
	mu      sync.Mutex
	secrets map[string]bool
	records []sunk
}

// sunk is one formatted log record and the test that logged it ("" for
// the default logger).
type sunk struct {
	test, text string
}

// minSecretLen is the length from which a token must never be logged:
// the Handler's (see minRedactedLen in handler.go). A shorter one is no
// secret, and is found in many a log line.
const minSecretLen = 8

// secret records tokens that no log record may hold.
func (s *sink) secret(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tokens {
		if len(t) >= minSecretLen {
			s.secrets[t] = true
		}
	}
}

// leaks returns the records of test (all of them for "") that hold a
// known token.
func (s *sink) leaks(test string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.records {
		if test != "" && r.test != test {
			continue
		}
		for t := range s.secrets {
			if strings.Contains(r.text, t) {
				out = append(out, fmt.Sprintf("%s: token %q in %s", r.test, t, r.text))
			}
		}
	}
	return out
}

// sinkHandler is an slog.Handler that formats each record, message and
// every attribute, as text and as JSON, into logSink, and passes it on to
// next, if any.
type sinkHandler struct {
	test   string
	next   slog.Handler
	attrs  []slog.Attr
	groups []string
}

func (h *sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sinkHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.Resolve().String())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	var js bytes.Buffer
	var jh slog.Handler = slog.NewJSONHandler(&js, &slog.HandlerOptions{Level: slog.LevelDebug})
	jh = jh.WithAttrs(h.attrs)
	for _, g := range h.groups {
		jh = jh.WithGroup(g)
	}
	jh.Handle(ctx, r.Clone())
	b.WriteString("\n")
	b.WriteString(js.String())
	logSink.mu.Lock()
	logSink.records = append(logSink.records, sunk{h.test, b.String()})
	logSink.mu.Unlock()
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *sinkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	if h.next != nil {
		c.next = h.next.WithAttrs(attrs)
	}
	return &c
}

func (h *sinkHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.groups = append(append([]string(nil), h.groups...), name)
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// sinkLogger returns a logger into logSink, and to next if given (a
// test's own handler, to look at what was logged); t fails at its end if
// a record it logged holds a known token.
func sinkLogger(t testing.TB, next ...slog.Handler) *slog.Logger {
	h := &sinkHandler{test: t.Name()}
	if len(next) > 0 {
		h.next = next[0]
	}
	t.Cleanup(func() {
		for _, leak := range logSink.leaks(t.Name()) {
			t.Error(leak)
		}
	})
	return slog.New(h)
}

// secretsIn records the tokens of an answer body: the registration
// access tokens that Authlete issued.
func secretsIn(body []byte) {
	var v struct {
		Token string `json:"registration_access_token"`
	}
	if json.Unmarshal(body, &v) == nil {
		logSink.secret(v.Token)
	}
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(&sinkHandler{}))
	code := m.Run()
	if leaks := logSink.leaks(""); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d log records hold a token the tests sent or were issued:\n%s\n", len(leaks), strings.Join(leaks, "\n"))
		code = 1
	}
	os.Exit(code)
}
