package dcr_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

func TestActions(t *testing.T) {
	actions := []struct {
		action authlete.Action
		status int
		header http.Header
		body   string
	}{
		{authlete.ActionCreated, 201, noStore(), content},
		{authlete.ActionOK, 200, noStore(), content},
		{authlete.ActionUpdated, 200, noStore(), content},
		{authlete.ActionDeleted, 204, http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}, ""},
		{authlete.ActionBadRequest, 400, noStore(), `{"error":"invalid_redirect_uri","error_description":"[A...] bad"}`},
		{authlete.ActionUnauthorized, 401, with(noStore(), "WWW-Authenticate", `Bearer error="invalid_token"`),
			`{"error":"invalid_token","error_description":"[A...] unknown token"}`},
		{authlete.ActionInternalServerError, 500, noStore(), `{"error":"server_error","error_description":"[A...] oops"}`},
	}
	// The actions Authlete's API reference gives each operation; any other
	// is an unusable answer, for the error handler.
	answers := map[string][]authlete.Action{
		"register": {authlete.ActionCreated, authlete.ActionBadRequest, authlete.ActionInternalServerError},
		"get":      {authlete.ActionOK, authlete.ActionBadRequest, authlete.ActionUnauthorized, authlete.ActionInternalServerError},
		"update":   {authlete.ActionUpdated, authlete.ActionBadRequest, authlete.ActionUnauthorized, authlete.ActionInternalServerError},
		"delete":   {authlete.ActionDeleted, authlete.ActionBadRequest, authlete.ActionUnauthorized, authlete.ActionInternalServerError},
	}
	for _, op := range operations {
		for _, a := range actions {
			t.Run(op.name+"/"+string(a.action), func(t *testing.T) {
				backend := &scripted{resp: &authlete.Response{ResultCode: "A000000", Action: a.action, ResponseContent: a.body}}
				if a.action == authlete.ActionDeleted {
					backend.resp.ResponseContent = "" // Authlete sends none
				}
				var hookErr error
				rec := httptest.NewRecorder()
				newRouter(dcr.New(backend, dcr.Options{Logger: sinkLogger(t), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					hookErr = err
					dcr.DefaultErrorHandler(w, r, err)
				}})).ServeHTTP(rec, op.request())

				assert.Equal(t, []call{op.want}, backend.recorded())
				if !slices.Contains(answers[op.name], a.action) {
					assert.Equal(t, 500, rec.Code, "not an answer of %s", op.name)
					assert.ErrorIs(t, hookErr, dcr.ErrBadBackendResponse)
					assert.NotContains(t, rec.Body.String(), "[A...]", "Authlete's body is not relayed")
					return
				}
				assert.Equal(t, a.status, rec.Code)
				assert.Equal(t, a.header, rec.Header())
				assert.Equal(t, a.body, rec.Body.String())
			})
		}
	}
}

func TestUnusableBackendAnswers(t *testing.T) {
	cases := []struct {
		name string
		resp *authlete.Response
	}{
		{"no response", nil},
		{"no action", &authlete.Response{ResultCode: "A1", ResponseContent: "{}"}},
		{"unknown action", &authlete.Response{Action: "REJECTED", ResponseContent: "{}"}},
		{"lowercase action", &authlete.Response{Action: "created", ResponseContent: "{}"}},
		{"CREATED without content", &authlete.Response{Action: authlete.ActionCreated}},
		{"BAD_REQUEST without content", &authlete.Response{Action: authlete.ActionBadRequest}},
	}
	for _, op := range operations {
		for _, tc := range cases {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				var seen error
				h := dcr.New(&scripted{resp: tc.resp}, dcr.Options{
					Logger: sinkLogger(t),
					ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
						seen = err
						dcr.DefaultErrorHandler(w, r, err)
					},
				})
				rec := httptest.NewRecorder()
				newRouter(h).ServeHTTP(rec, op.request())
				assert.Equal(t, 500, rec.Code)
				assert.Equal(t, noStore(), rec.Header())
				code, _ := errorBody(t, rec.Body.Bytes())
				assert.Equal(t, "server_error", code)
				assert.ErrorIs(t, seen, dcr.ErrBadBackendResponse)
			})
		}
	}
}
