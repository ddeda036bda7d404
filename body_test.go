package dcr_test

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf16"

	"errors"
	"net/http"
	"net/http/httptest"
	"pgregory.net/rapid"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

// errReader fails in the middle of a body.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestUnreadableBody: a body that cannot be read is the client's 400,
// without calling Authlete.
func TestUnreadableBody(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	r := httptest.NewRequest("POST", "/register", errReader{})
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)
	assert.Equal(t, 400, rec.Code)
	assert.JSONEq(t, `{"error":"invalid_request","error_description":"The request body could not be read."}`, rec.Body.String())
	assert.Empty(t, backend.recorded())
}

func TestBodyAccepted(t *testing.T) {
	cases := []struct{ name, contentType, body string }{
		{"charset", "application/json; charset=utf-8", metadata},
		{"upper case", "Application/JSON", metadata},
		{"leading white space", "application/json", " \n\t" + metadata},
		{"unknown members", "application/json", `{"resource":"https://mcp.example.com","scope":"","x":{"y":[1]}}`},
		{"exactly at the limit", "application/json", `{"a":"` + strings.Repeat("x", dcr.MaxMetadataStringBytes) + `"}` +
			strings.Repeat(" ", dcr.DefaultMaxBodyBytes-dcr.MaxMetadataStringBytes-8)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
			r := httptest.NewRequest("POST", "/register", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			newRouter(dcr.New(backend, dcr.Options{})).ServeHTTP(rec, r)
			assert.Equal(t, 201, rec.Code)
			assert.Equal(t, []call{{"register", authlete.Request{JSON: tc.body}}}, backend.recorded())
		})
	}
}

// TestMetadataShapeLimits: client metadata nested deeper than
// MaxMetadataDepth, or with a string (a value or a member name) longer
// than MaxMetadataStringBytes as sent, is refused with 400
// invalid_client_metadata before any policy or Authlete sees it, on
// registration and update; metadata at the limits passes.
func TestMetadataShapeLimits(t *testing.T) {
	nested := func(depth int) string { // the body itself is level 1
		return `{"a":` + strings.Repeat("[", depth-2) + `{}` + strings.Repeat("]", depth-2) + `}`
	}
	long := strings.Repeat("x", dcr.MaxMetadataStringBytes)
	deep := `{"error":"invalid_client_metadata","error_description":"The client metadata is nested more than 32 levels deep."}`
	tooLong := `{"error":"invalid_client_metadata","error_description":"A string of the client metadata is longer than 8192 bytes."}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"32 levels", nested(32), ""},
		{"33 levels", nested(33), deep},
		{"9,990 levels", `{"a":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}`, deep},
		{"brackets in strings do not count", `{"a":"` + strings.Repeat("[", 100) + `","b":"\"[{"}`, ""},
		{"a string at the limit", `{"scope":"` + long + `"}`, ""},
		{"a string over the limit", `{"scope":"` + long + `x"}`, tooLong},
		{"escapes count as sent", `{"scope":"` + long[1:] + `\""}`, tooLong},
		{"a member name over the limit", `{"` + long + `x":1}`, tooLong},
		{"a string in an array", `{"redirect_uris":["https://a.example/` + long + `"]}`, tooLong},
	} {
		for _, method := range []string{"POST", "PUT"} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				ran := false
				backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
				h := newRouter(dcr.New(backend, dcr.Options{Policies: []dcr.Policy{func(*http.Request, dcr.Metadata) error { ran = true; return nil }}}))
				path := map[string]string{"POST": "/register", "PUT": "/register/" + clientID}[method]
				rec := send(h, method, path, "Bearer "+ratToken, tc.body)
				if tc.want == "" {
					assert.True(t, ran, "the policy ran")
					assert.Len(t, backend.recorded(), 1)
					return
				}
				assert.Equal(t, 400, rec.Code)
				assert.JSONEq(t, tc.want, rec.Body.String())
				assert.False(t, ran, "no policy ran")
				assert.Empty(t, backend.recorded())
			})
		}
	}
}

func TestMaxBodyBytes(t *testing.T) {
	backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
	h := newRouter(dcr.New(backend, dcr.Options{MaxBodyBytes: 16}))
	for body, want := range map[string]int{`{"a":"12345678"}`: 201, `{"a":"123456789"}`: 413} {
		r := httptest.NewRequest("POST", "/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, want, rec.Code, "body %s", body)
	}
}

// TestPoliciesRefuseWhatNoPoliciesRefuse: with policies, the body is
// checked to be a JSON object by the decoding the policies need, not by a
// pass of its own. The property: for any body (JSON objects, other JSON
// values, and their truncations, insertions and trailing bytes), a
// handler with a policy that changes nothing refuses it exactly when one
// without policies does, with the same answer, and calls Authlete with
// the same metadata otherwise. Each seed with each byte of the alphabet
// before and after it is tried, then random edits.
func TestPoliciesRefuseWhatNoPoliciesRefuse(t *testing.T) {
	seeds := []string{metadata, `{}`, `{"a":[1,{"b":null}],"c":true,"d":-1.5e3}`, ` {"x":"\u00e9\"\\"} `,
		`[]`, `null`, `"s"`, `1`, `true`, `{"a":1}{"b":2}`, `{"a":1} x`, "{\"a\":1}\n\t\r "}
	alphabet := []byte("{}[]\",:\\ \t\r\n\f\vabe0-.x\x00\xff")
	for _, seed := range seeds {
		for _, b := range alphabet {
			sameAnswers(t, []byte(seed+string(b)))
			sameAnswers(t, []byte(string(b)+seed))
		}
	}
	rapid.Check(t, func(rt *rapid.T) {
		body := []byte(rapid.SampledFrom(seeds).Draw(rt, "seed"))
		for _, edit := range rapid.SliceOfN(rapid.IntRange(0, 3), 0, 3).Draw(rt, "edits") {
			at := rapid.IntRange(0, len(body)).Draw(rt, "at")
			switch edit {
			case 0: // truncate
				body = body[:at]
			case 1: // insert
				b := rapid.SampledFrom(alphabet).Draw(rt, "byte")
				body = append(body[:at:at], append([]byte{b}, body[at:]...)...)
			case 2: // delete
				if at < len(body) {
					body = append(body[:at:at], body[at+1:]...)
				}
			case 3: // trailing
				body = append(body, rapid.SampledFrom(alphabet).Draw(rt, "trailing"))
			}
		}
		sameAnswers(rt, body)
	})
}

// sameAnswers fails t unless body gets the same answer, and Authlete the
// same metadata, from a handler without policies and from one with a
// policy that changes nothing.
func sameAnswers(t require.TestingT, body []byte) {
	nothing := dcr.Policy(func(*http.Request, dcr.Metadata) error { return nil })
	answers := make([]*httptest.ResponseRecorder, 2)
	calls := make([][]call, 2)
	for i, policies := range [][]dcr.Policy{nil, {nothing}} {
		backend := &scripted{resp: &authlete.Response{Action: authlete.ActionCreated, ResponseContent: content}}
		r := httptest.NewRequest("POST", "/register", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		answers[i] = httptest.NewRecorder()
		newRouter(dcr.New(backend, dcr.Options{Policies: policies})).ServeHTTP(answers[i], r)
		calls[i] = backend.recorded()
	}
	require.Equal(t, answers[0].Code, answers[1].Code, "body %q: status without policies, with", body)
	require.Equal(t, answers[0].Body.String(), answers[1].Body.String(), "body %q: answer without policies, with", body)
	require.Equal(t, len(calls[0]), len(calls[1]), "body %q: Authlete calls without policies, with", body)
	if len(calls[0]) == 1 {
		var sent, reencoded any
		require.NoError(t, json.Unmarshal([]byte(calls[0][0].req.JSON), &sent), "body %q", body)
		require.NoError(t, json.Unmarshal([]byte(calls[1][0].req.JSON), &reencoded), "body %q", body)
		require.Equal(t, sent, reencoded, "body %q: what Authlete got", body)
	}
}

// TestBodyMustBeUnicode: a body that is not UTF-8, or that escapes a
// lone surrogate, is refused with 400 before Authlete is called, with or
// without policies: encoding/json would read either as U+FFFD, and
// Authlete would get other metadata than the client sent. Generated: a
// client_name of pieces, each good (ASCII, any rune as UTF-8, a \u escape
// of a rune that is no surrogate, an escaped surrogate pair, an escaped
// backslash before "ud800") or bad (a byte sequence that is not UTF-8, an
// escaped lone high or low surrogate, a high one followed by another
// escape); a body of good pieces reaches Authlete as the runes they stand
// for.
func TestBodyMustBeUnicode(t *testing.T) {
	type piece struct {
		sent, means string // as sent in the JSON string, and its runes
		bad         string // the refusal's description, "" for a good piece
	}
	const notUTF8 = "The request body must be UTF-8 (RFC 8259, section 8.1)."
	const lone = "A string of the client metadata escapes a lone surrogate (RFC 8259, section 8.2)."
	invalid := []string{"\xff", "\xfe", "\x80", "\xbf", "\xc2", "\xe2\x82", "\xf0\x9d\x84", "\xc0\x80", "\xc1\xbf",
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80"}
	pieceGen := rapid.Custom(func(rt *rapid.T) piece {
		switch rapid.IntRange(0, 8).Draw(rt, "kind") {
		case 0:
			s := rapid.StringOfN(rapid.RuneFrom(nil, &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x20, Hi: 0x7e, Stride: 1}}}), 1, 5, -1).Draw(rt, "ascii")
			s = strings.NewReplacer(`"`, "", `\`, "").Replace(s)
			return piece{sent: s, means: s}
		case 1:
			r := rapid.RuneFrom(nil, unicode.L, unicode.S, unicode.M, unicode.Co).Draw(rt, "rune")
			return piece{sent: string(r), means: string(r)}
		case 2:
			r := rapid.Int32Range(0x20, 0xFFFF).Filter(func(r int32) bool { return r < 0xD800 || r > 0xDFFF }).Draw(rt, "escaped")
			return piece{sent: fmt.Sprintf(`\u%04x`, r), means: string(rune(r))}
		case 3:
			r := rapid.Int32Range(0x10000, unicode.MaxRune).Draw(rt, "astral")
			hi, lo := utf16.EncodeRune(rune(r))
			return piece{sent: fmt.Sprintf(`\u%04X\u%04x`, hi, lo), means: string(rune(r))}
		case 4:
			return piece{sent: `\\ud800`, means: `\ud800`}
		case 5:
			// Between ASCII: two pieces together could be UTF-8 ("\xc2" "\x80").
			return piece{sent: "a" + rapid.SampledFrom(invalid).Draw(rt, "invalid") + "a", bad: notUTF8}
		case 6:
			// Between letters, as below: a neighbour could pair with it.
			return piece{sent: fmt.Sprintf(`x\u%04xx`, rapid.Int32Range(0xD800, 0xDFFF).Draw(rt, "lone")), bad: lone}
		case 7:
			hi := rapid.Int32Range(0xD800, 0xDBFF).Draw(rt, "high")
			next := rapid.SampledFrom([]string{`\u0041`, `\ud800`, `\n`, "x", `\\udc00`}).Draw(rt, "after high")
			return piece{sent: fmt.Sprintf(`x\u%04x`, hi) + next + "x", bad: lone}
		default:
			lo := rapid.Int32Range(0xDC00, 0xDFFF).Draw(rt, "low")
			hi := rapid.Int32Range(0xD800, 0xDBFF).Draw(rt, "then high")
			return piece{sent: fmt.Sprintf(`x\u%04x\u%04xx`, lo, hi), bad: lone}
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		pieces := rapid.SliceOfN(pieceGen, 1, 6).Draw(rt, "pieces")
		var sent, means strings.Builder
		bad := map[string]bool{}
		for _, p := range pieces {
			sent.WriteString(p.sent)
			means.WriteString(p.means)
			if p.bad != "" {
				bad[p.bad] = true
			}
		}
		body := `{"client_name":"` + sent.String() + `","redirect_uris":["https://client.example.org/cb"]}`
		nothing := dcr.Policy(func(*http.Request, dcr.Metadata) error { return nil })
		for _, policies := range [][]dcr.Policy{nil, {nothing}} {
			backend := succeeding(content)
			rec := send(newRouter(dcr.New(backend, dcr.Options{Policies: policies})), "POST", "/register", "", body)
			if len(bad) == 0 {
				require.Equal(rt, 201, rec.Code, "body %q: %s", body, rec.Body)
				var got struct {
					ClientName string `json:"client_name"`
				}
				require.NoError(rt, json.Unmarshal([]byte(backend.recorded()[0].req.JSON), &got))
				require.Equal(rt, means.String(), got.ClientName, "body %q", body)
				continue
			}
			require.Equal(rt, 400, rec.Code, "body %q", body)
			var e struct {
				Description string `json:"error_description"`
			}
			require.NoError(rt, json.Unmarshal(rec.Body.Bytes(), &e))
			require.True(rt, bad[e.Description], "body %q: %s", body, rec.Body)
			require.Empty(rt, backend.recorded())
		}
	})
}

// TestSurrogateEscapeBoundaries: the edges of the surrogate ranges, which
// generated code units seldom hit.
func TestSurrogateEscapeBoundaries(t *testing.T) {
	for escape, ok := range map[string]bool{
		`\ud7ff`: true, `\ue000`: true, `\uD800\uDC00`: true, `\udbff\udfff`: true, `\uffff`: true,
		`\ud800`: false, `\udbff`: false, `\udc00`: false, `\uDFFF`: false, `\ud800\ud7ff`: false, `\ud800\ue000`: false,
		`\udbff\u`: false, `\ud800\\udc00`: false,
	} {
		backend := succeeding(content)
		rec := send(newRouter(dcr.New(backend, dcr.Options{})), "POST", "/register", "", `{"client_name":"`+escape+`"}`)
		if ok {
			assert.Equal(t, 201, rec.Code, "%s: %s", escape, rec.Body)
			continue
		}
		assert.Equal(t, 400, rec.Code, escape)
		assert.Contains(t, rec.Body.String(), "lone surrogate", escape)
		assert.Empty(t, backend.recorded(), escape)
	}
}

// TestMaxBytesHandlerIsTooLarge: a body over the limit of the
// application's own http.MaxBytesHandler, tighter than MaxBodyBytes, is a
// 413 as one over MaxBodyBytes is, not a body that could not be read.
func TestMaxBytesHandlerIsTooLarge(t *testing.T) {
	backend := succeeding(content)
	h := http.MaxBytesHandler(newRouter(dcr.New(backend, dcr.Options{})), 20)
	r := httptest.NewRequest("POST", "/register", strings.NewReader(metadata))
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1 // sent chunked: only the reading finds it too long
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, 413, rec.Code)
	assert.JSONEq(t, `{"error":"invalid_request","error_description":"The request body is too large."}`, rec.Body.String())
	assert.Empty(t, backend.recorded())
}
