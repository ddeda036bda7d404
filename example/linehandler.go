package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// lineHandler is the example's slog.Handler. It writes what
// slog.NewTextHandler(w, nil) writes, byte for byte, one Write per line
// (nothing is buffered: a crash loses no line), and formats by itself the
// records whose attributes are all strings, integers, booleans and
// durations, as the request line of logRequests is: slog.TextHandler
// formats them through its generic machinery at several times the cost
// (BenchmarkLineHandler). Any other record, and any handler WithAttrs or
// WithGroup derives, is TextHandler's. TestLineHandlerIsTextHandler keeps
// the two alike.
type lineHandler struct {
	text *slog.TextHandler
	out  *lockedWriter
	bufs sync.Pool // *[]byte
}

// newLineHandler returns a lineHandler writing to w.
func newLineHandler(w io.Writer) *lineHandler {
	out := &lockedWriter{w: w}
	return &lineHandler{text: slog.NewTextHandler(out, nil), out: out,
		bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// lockedWriter writes a line at a time, for the lineHandler and its
// TextHandler alike.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *lineHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.text.WithAttrs(attrs) }

func (h *lineHandler) WithGroup(name string) slog.Handler { return h.text.WithGroup(name) }

// maxPooledLine bounds the buffers the handler keeps for later lines.
const maxPooledLine = 16 << 10

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	buf := h.bufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledLine {
			h.bufs.Put(buf)
		}
	}()
	line, ok := appendLine((*buf)[:0], r)
	*buf = line
	if !ok {
		return h.text.Handle(ctx, r)
	}
	_, err := h.out.Write(line)
	return err
}

// appendLine appends r to b as slog.TextHandler without options writes
// it, and reports whether it could: false for a record with an attribute
// of another kind, or without a key.
func appendLine(b []byte, r slog.Record) ([]byte, bool) {
	if !r.Time.IsZero() {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, r.Time.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendText(b, r.Level.String())
	b = append(b, " msg="...)
	b = appendText(b, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false
			return false
		}
		b = append(b, ' ')
		b = appendText(b, a.Key)
		b = append(b, '=')
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = appendText(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = append(b, v.Duration().String()...)
		default:
			ok = false
		}
		return ok
	})
	return append(b, '\n'), ok
}

// appendRFC3339Millis appends t as slog.TextHandler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10) // four digits, never trimmed
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the fourth
}

// appendText appends s as slog.TextHandler does: as it is, or quoted
// (strconv.Quote) when it is empty or has a space, '=', '"', a control
// character, invalid UTF-8 or a code point that is not printable. A
// newline in a value never starts a line of its own.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
