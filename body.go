package dcr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// readBody reads a body of client metadata: the refusal to answer with
// when it is too large, too deep or not UTF-8. Whether it is one JSON
// object is applyPolicies' to say, in the decoding it does anyway.
func (h *Handler) readBody(r *http.Request) ([]byte, *Error) {
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, errContentType
	}
	if r.ContentLength > h.maxBody {
		return nil, errTooLarge
	}
	data, err := readAll(r.Body, r.ContentLength, h.maxBody)
	switch {
	case err == errBodyTooLarge, errors.As(err, new(*http.MaxBytesError)):
		// Ours, or that of the application's http.MaxBytesReader or
		// http.MaxBytesHandler, tighter than Options.MaxBodyBytes.
		return nil, errTooLarge
	case err != nil:
		return nil, errReadBody
	}
	// The shape first: it stops at the first level or byte too many,
	// where the JSON validation would read it all.
	if e := checkShape(data); e != nil {
		return nil, e
	}
	// Not JSON text (RFC 8259 §8.1), which encoding/json would read with
	// U+FFFD in place of each bad byte: Authlete would get other metadata
	// than the client sent, and not what a policy checked.
	if !utf8.Valid(data) {
		return nil, errNotUTF8
	}
	return data, nil
}

var errBodyTooLarge = errors.New("dcr: request body too large")

// readAll reads r to its end, but never more than limit bytes: a longer
// body is errBodyTooLarge, whatever its announced length (already checked
// against limit). The first buffer is sized for the announced length, so
// that a body is read without copies.
func readAll(r io.Reader, length, limit int64) ([]byte, error) {
	size := int64(512)
	if length >= 0 {
		size = length + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// jsonSpace is JSON's white space (RFC 8259 §2).
const jsonSpace = " \t\r\n"

// isJSONObject reports whether body is exactly one JSON object (RFC 8259),
// with optional white space around it.
func isJSONObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, jsonSpace)
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(body)
}

// The limits of client metadata that checkShape enforces, before any
// policy runs: decoding a body nested thousands of levels deep, or
// splitting a scope of 64 KiB, costs a policy (and Authlete) far more
// than a registration should. Client metadata is a few levels deep (jwks:
// object, keys, key, x5c) and its longest values are software statements
// and certificates of a few kilobytes.
const (
	MaxMetadataDepth       = 32      // nesting of objects and arrays, the body itself counting as 1
	MaxMetadataStringBytes = 8 << 10 // each string, member names included, as sent (escapes counted)
)

// checkShape returns the error for a body nested deeper than
// MaxMetadataDepth, with a string longer than MaxMetadataStringBytes or
// with a \u escape of a lone surrogate, nil for one within the limits. It
// does not validate the JSON.
func checkShape(body []byte) *Error {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			if depth++; depth > MaxMetadataDepth {
				return errTooDeep
			}
		case '}', ']':
			depth--
		case '"':
			end := i + 1 + MaxMetadataStringBytes // the closing quote, at the latest
			for i++; i < len(body) && body[i] != '"'; i++ {
				if i >= end {
					return errTooLong
				}
				if body[i] == '\\' {
					n, e := escapeLen(body[i:])
					if e != nil {
						return e
					}
					i += n - 1
				}
			}
			if i > end { // an escape took the string past the limit
				return errTooLong
			}
		}
	}
	return nil
}

// isJSONContentType reports whether v names application/json, with or
// without parameters such as charset.
func isJSONContentType(v string) bool {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.EqualFold(strings.TrimSpace(v), "application/json")
}

// escapeLen returns the length of the escape at the start of s (a
// backslash): 12 for a surrogate pair, 6 for another \uXXXX and 2 for the
// others, including those the JSON validation refuses. A \u escape of a
// lone surrogate is errLoneSurrogate: RFC 8259 §8.2 leaves what it means
// unpredictable, and encoding/json reads it as U+FFFD, so Authlete would
// get other metadata than the client sent (I-JSON, RFC 7493 §2.1, forbids
// it).
func escapeLen(s []byte) (int, *Error) {
	r, ok := hexEscape(s)
	switch {
	case !ok:
		return 2, nil
	case 0xDC00 <= r && r <= 0xDFFF:
		return 0, errLoneSurrogate // a low surrogate first
	case 0xD800 <= r && r <= 0xDBFF:
		if low, ok := hexEscape(s[6:]); ok && 0xDC00 <= low && low <= 0xDFFF {
			return 12, nil
		}
		return 0, errLoneSurrogate
	}
	return 6, nil
}

// hexEscape returns the code unit of the \uXXXX escape at the start of s,
// and whether there is one.
func hexEscape(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
