package dcr_test

import (
	"encoding/json"

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
