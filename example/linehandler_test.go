package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// writeCounter keeps what is written to it, and how many writes.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// texts are strings as a request's path, query, address or error may
// carry them, an attacker's among them: spaces, '=', quotes, newlines and
// other controls, invalid UTF-8, Unicode spaces and format characters.
var texts = rapid.OneOf(
	rapid.SampledFrom([]string{"", "POST", "/register", "/register/123", "A031001", "127.0.0.1", "::1", "invalid_client_metadata",
		"a b", "a=b", `a"b`, `a\b`, "a\nlevel=ERROR msg=forged", "\r", "\t", "\x00", "\x7f", "\xff", "\xc3", "é", "\u00a0", "\u2028",
		"\u200b", "\u202e", "\ufffd", "𝐂", "日本", "?", "key=", "=", `"`, `\`}),
	rapid.String(),
	rapid.StringOf(rapid.RuneFrom([]rune{'a', ' ', '=', '"', '\\', '\n', 0x7f, 0x85, 0xa0, 0x2028, 0xfeff, 0xfffd, 0x10ffff})),
	rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }),
)

// attrs are attributes of every kind: those lineHandler formats, and
// those it leaves to slog.TextHandler.
var attrs = rapid.Custom(func(t *rapid.T) slog.Attr {
	key := rapid.OneOf(texts, rapid.SampledFrom([]string{"method", "route", "status", "duration", "err"})).Draw(t, "key")
	switch rapid.IntRange(0, 9).Draw(t, "kind") {
	case 0:
		return slog.Int64(key, rapid.Int64().Draw(t, "int"))
	case 1:
		return slog.Uint64(key, rapid.Uint64().Draw(t, "uint"))
	case 2:
		return slog.Bool(key, rapid.Bool().Draw(t, "bool"))
	case 3:
		return slog.Duration(key, time.Duration(rapid.Int64().Draw(t, "duration")))
	case 4:
		return slog.Float64(key, rapid.Float64().Draw(t, "float"))
	case 5:
		return slog.Any(key, errors.New(texts.Draw(t, "error")))
	case 6:
		return slog.Group(key, slog.String(texts.Draw(t, "in group"), texts.Draw(t, "value")))
	case 7:
		return slog.Time(key, time.Unix(rapid.Int64Range(-1e10, 1e10).Draw(t, "unix"), 0))
	}
	return slog.String(key, texts.Draw(t, "string"))
})

// record draws a record of the kind logRequests logs, or of any other.
func record(t *rapid.T) slog.Record {
	var when time.Time
	if !rapid.Bool().Draw(t, "no time") {
		when = time.Unix(rapid.Int64Range(-1e11, 1e11).Draw(t, "sec"), rapid.Int64Range(0, 1e9-1).Draw(t, "nsec")).
			In(time.FixedZone("", rapid.IntRange(-50400, 50400).Draw(t, "zone")))
	}
	level := slog.Level(rapid.IntRange(-10, 14).Draw(t, "level"))
	r := slog.NewRecord(when, level, texts.Draw(t, "msg"), 0)
	r.AddAttrs(rapid.SliceOfN(attrs, 0, 20).Draw(t, "attrs")...)
	return r
}

// TestLineHandlerIsTextHandler: whatever it logs, lineHandler writes what
// slog.TextHandler writes, and one Write per line; and so do the handlers
// WithAttrs and WithGroup derive from it.
func TestLineHandlerIsTextHandler(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var got writeCounter
		var want bytes.Buffer
		var h, text slog.Handler = newLineHandler(&got), slog.NewTextHandler(&want, nil)
		if rapid.Bool().Draw(t, "derived") {
			a := rapid.SliceOfN(attrs, 0, 3).Draw(t, "with attrs")
			h, text = h.WithAttrs(a), text.WithAttrs(a)
			if g := texts.Draw(t, "group"); g != "" {
				h, text = h.WithGroup(g), text.WithGroup(g)
			}
		}
		lines := rapid.IntRange(1, 3).Draw(t, "lines")
		for range lines {
			r := record(t)
			require.NoError(t, h.Handle(context.Background(), r.Clone()))
			require.NoError(t, text.Handle(context.Background(), r))
		}
		require.Equal(t, want.String(), got.String())
		require.Equal(t, lines, got.writes, "one write per line")
	})
}

// TestLineHandlerRequestLine: the request line of logRequests is
// formatted by lineHandler itself, not by its TextHandler, as TextHandler
// would.
func TestLineHandlerRequestLine(t *testing.T) {
	r := slog.NewRecord(time.Date(2026, 12, 2, 3, 4, 5, 67e6, time.UTC), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "POST"), slog.String("query", ""), slog.Int("status", 201), slog.Duration("duration", 1500*time.Microsecond),
		slog.String("error", "a b"), slog.String("path", "/register\nlevel=ERROR"))
	line, ok := appendLine(nil, r)
	require.True(t, ok)
	assert.Equal(t, `time=2026-12-02T03:04:05.067Z level=INFO msg=request method=POST query="" status=201 duration=1.5ms error="a b" path="/register\nlevel=ERROR"`+"\n", string(line))
	_, ok = appendLine(nil, slog.NewRecord(time.Time{}, slog.LevelInfo, "x", 0))
	assert.True(t, ok)
	r.AddAttrs(slog.Any("err", errors.New("e")))
	_, ok = appendLine(nil, r)
	assert.False(t, ok, "an error value is TextHandler's")
}

// BenchmarkLineHandler is the request line of logRequests written by
// lineHandler and by slog.TextHandler, to io.Discard. Compare them in one
// run.
//
//	go test -run X -bench LineHandler -benchmem
func BenchmarkLineHandler(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "POST"), slog.String("route", "/register"), slog.String("path", "/register"),
		slog.String("query", ""), slog.Int("status", 201), slog.Int("bytes", 1392), slog.Duration("duration", 3217*time.Microsecond),
		slog.String("client_ip", "127.0.0.1"), slog.String("op", "register"), slog.String("client_id", "2563577125"),
		slog.String("action", "CREATED"), slog.String("result_code", "A031001"), slog.String("error", ""))
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{{"text", slog.NewTextHandler(io.Discard, nil)}, {"line", newLineHandler(io.Discard)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.Handle(context.Background(), r)
			}
		})
	}
}
