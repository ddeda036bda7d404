package dcr

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/dcr-go/dcr/authlete"
)

// setNoStore sets the headers that keep responses with credentials out of
// caches (RFC 7591 §3.2.1, RFC 7592 §2). The keys are written in canonical
// form, which spares Header.Set's work.
func setNoStore(h http.Header) {
	h["Cache-Control"] = []string{"no-store"}
	h["Pragma"] = []string{"no-cache"}
}

// setJSON sets the headers of a JSON response.
func setJSON(h http.Header) {
	h["Content-Type"] = []string{"application/json"}
	setNoStore(h)
}

// ErrBadBackendResponse is wrapped by the error that reaches
// Options.ErrorHandler when the Backend answers with no response, an
// action the Handler does not know, or no responseContent where the
// action needs one.
var ErrBadBackendResponse = errors.New("dcr: unusable backend response")

// actionStatus is the HTTP status of each action whose body is
// responseContent (Authlete's API reference; RFC 7591 §3.2, RFC 7592 §2),
// 0 for the others.
func actionStatus(a authlete.Action) int {
	switch a {
	case authlete.ActionCreated:
		return http.StatusCreated
	case authlete.ActionOK, authlete.ActionUpdated:
		return http.StatusOK
	case authlete.ActionBadRequest:
		return http.StatusBadRequest
	case authlete.ActionUnauthorized:
		return http.StatusUnauthorized
	case authlete.ActionInternalServerError:
		return http.StatusInternalServerError
	}
	return 0
}

// writeAction writes the response that resp's action prescribes. It writes
// nothing and returns an error if it cannot.
func writeAction(w http.ResponseWriter, resp *authlete.Response) error {
	if resp == nil {
		return fmt.Errorf("%w: no response", ErrBadBackendResponse)
	}
	if resp.Action == authlete.ActionDeleted {
		setNoStore(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	status := actionStatus(resp.Action)
	if status == 0 {
		return fmt.Errorf("%w: action %q (result code %q)", ErrBadBackendResponse, resp.Action, resp.ResultCode)
	}
	if resp.ResponseContent == "" {
		return fmt.Errorf("%w: action %s without responseContent (result code %q)", ErrBadBackendResponse, resp.Action, resp.ResultCode)
	}
	hdr := w.Header()
	setJSON(hdr)
	if resp.Action == authlete.ActionUnauthorized {
		// RFC 6750 §3: a 401 for a bad bearer token names the scheme and
		// the error.
		hdr["Www-Authenticate"] = []string{`Bearer error="invalid_token"`}
	}
	w.WriteHeader(status)
	io.WriteString(w, resp.ResponseContent)
	return nil
}
