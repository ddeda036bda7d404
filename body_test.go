package dcr_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

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
