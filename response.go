package dcr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

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

// localError is an error the Handler answers itself.
type localError struct {
	status      int
	code        string // the RFC 6749, 6750 or 7591 error code
	description string
	challenge   string // the WWW-Authenticate header, if any
}

var (
	errMethod        = localError{http.StatusMethodNotAllowed, "invalid_request", "The method is not allowed on this endpoint.", ""}
	errAuthorization = localError{http.StatusBadRequest, "invalid_request", "The Authorization header is not a single Bearer token.", `Bearer error="invalid_request"`}
	// RFC 6750 §3.1: no error code in the challenge when the request had no token.
	errNoToken         = localError{http.StatusUnauthorized, "invalid_token", "A registration access token is required in the Authorization header.", "Bearer"}
	errNoInitialToken  = localError{http.StatusUnauthorized, "invalid_token", "An initial access token is required in the Authorization header.", "Bearer"}
	errBadInitialToken = localError{http.StatusUnauthorized, "invalid_token", "The initial access token is not valid.", `Bearer error="invalid_token"`}
	errClientID        = localError{http.StatusBadRequest, "invalid_request", "The client ID in the path is not valid.", ""}
	errNotFound        = localError{http.StatusNotFound, "invalid_request", "There is no such endpoint.", ""}
	errContentType     = localError{http.StatusUnsupportedMediaType, "invalid_request", "The Content-Type must be application/json.", ""}
	errTooLarge        = localError{http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.", ""}
	errReadBody        = localError{http.StatusBadRequest, "invalid_request", "The request body could not be read.", ""}
	errNotObject       = localError{http.StatusBadRequest, "invalid_client_metadata", "The request body must be a JSON object.", ""}
	errTooDeep         = localError{http.StatusBadRequest, "invalid_client_metadata", "The client metadata is nested more than 32 levels deep.", ""}
	errTooLong         = localError{http.StatusBadRequest, "invalid_client_metadata", "A string of the client metadata is longer than 8192 bytes.", ""}
	errServer          = localError{http.StatusInternalServerError, "server_error", "The authorization server could not process the request.", ""}
	errUnavailable     = localError{http.StatusServiceUnavailable, "temporarily_unavailable", "The authorization server is busy; try again later.", ""}
	errTimeout         = localError{http.StatusGatewayTimeout, "server_error", "The authorization server did not get an answer in time.", ""}
)

// reject answers the request itself with e and records it in ev.
func reject(w http.ResponseWriter, ev *Event, e localError, allow string) {
	ev.Error = e.code
	writeError(w, e, allow)
}

// writeError writes e as an RFC-shaped JSON error. allow is the Allow
// header of a 405.
func writeError(w http.ResponseWriter, e localError, allow string) {
	hdr := w.Header()
	setJSON(hdr)
	if allow != "" {
		hdr.Set("Allow", allow)
	}
	if e.challenge != "" {
		hdr.Set("WWW-Authenticate", e.challenge)
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{e.code, e.description})
	w.WriteHeader(e.status)
	w.Write(body)
}

// maxRetryAfter bounds the Retry-After that DefaultErrorHandler passes on:
// Authlete asking for more (or for a date far in the future) is a fault,
// not advice for an OAuth client.
const maxRetryAfter = time.Hour

// DefaultErrorHandler answers a request whose Backend call failed. It
// never writes the error's text. Authlete rate limiting or unavailability
// (HTTP 429 or 503) becomes 503 temporarily_unavailable with Authlete's
// Retry-After (at most an hour), and so does a Policy's *UnavailableError
// with its RetryAfter; a timeout, 504 server_error; anything else, 500
// server_error.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var ae *authlete.Error
	var ue *UnavailableError
	switch {
	case errors.As(err, &ae) && (ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusServiceUnavailable):
		setRetryAfter(w.Header(), ae.RetryAfter)
		writeError(w, errUnavailable, "")
	case errors.As(err, &ue):
		setRetryAfter(w.Header(), ue.RetryAfter)
		writeError(w, errUnavailable, "")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, errTimeout, "")
	default:
		writeError(w, errServer, "")
	}
}

// setRetryAfter sets Retry-After to wait, rounded up to seconds and at
// most maxRetryAfter; not at all when wait is not positive.
func setRetryAfter(h http.Header, wait time.Duration) {
	if wait > 0 {
		wait = min(wait, maxRetryAfter)
		h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
}
