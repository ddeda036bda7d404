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
// action the Handler does not know or that is not one of the
// operation's, or no responseContent where the action needs one.
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

// answers reports whether Authlete's API reference gives action as an
// answer of op: its success (CREATED, OK, UPDATED, DELETED), BAD_REQUEST,
// INTERNAL_SERVER_ERROR, and UNAUTHORIZED for a client configuration
// request, whose registration access token Authlete checks.
func answers(op Op, action authlete.Action) bool {
	switch action {
	case authlete.ActionBadRequest, authlete.ActionInternalServerError:
		return true
	case authlete.ActionCreated:
		return op == OpRegister
	case authlete.ActionOK:
		return op == OpGet
	case authlete.ActionUpdated:
		return op == OpUpdate
	case authlete.ActionDeleted:
		return op == OpDelete
	case authlete.ActionUnauthorized:
		return op != OpRegister
	}
	return false
}

// writeAction writes the response that resp's action prescribes for op. It
// writes nothing and returns an error if it cannot: no response, or an
// action that is not one of op's.
func writeAction(w http.ResponseWriter, op Op, resp *authlete.Response) error {
	if resp == nil {
		return fmt.Errorf("%w: no response", ErrBadBackendResponse)
	}
	if !answers(op, resp.Action) { // an action unknown, or another operation's
		return fmt.Errorf("%w: action %q to %s (result code %q)", ErrBadBackendResponse, resp.Action, op, resp.ResultCode)
	}
	if resp.Action == authlete.ActionDeleted {
		setNoStore(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	status := actionStatus(resp.Action) // not 0: answers knows no other action
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
	if _, err := io.WriteString(w, resp.ResponseContent); err != nil {
		return &unwritten{err}
	}
	return nil
}

// unwritten is the failure to write an answer of Authlete's: under
// http.TimeoutHandler, http.ErrHandlerTimeout (a client that hangs up is
// seen only when net/http's buffer was already full).
type unwritten struct{ err error }

func (e *unwritten) Error() string { return "dcr: the answer could not be written: " + e.err.Error() }

func (e *unwritten) Unwrap() error { return e.err }
