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

// ErrorCode is an OAuth error code, the "error" of an error response.
type ErrorCode string

// The error codes the Handler answers with: RFC 6749 §5.2 and RFC 6750
// §3.1, and those of RFC 7591 §3.2.2 that a Policy rejects with.
const (
	InvalidRequest         ErrorCode = "invalid_request"
	InvalidToken           ErrorCode = "invalid_token"
	ServerError            ErrorCode = "server_error"
	TemporarilyUnavailable ErrorCode = "temporarily_unavailable"

	InvalidRedirectURI          ErrorCode = "invalid_redirect_uri"
	InvalidClientMetadata       ErrorCode = "invalid_client_metadata"
	InvalidSoftwareStatement    ErrorCode = "invalid_software_statement"
	UnapprovedSoftwareStatement ErrorCode = "unapproved_software_statement"
)

// Error is an answer to a request as an RFC-shaped JSON error:
// {"error": Code, "error_description": Description}. A Policy rejects a
// request by returning one (see Reject); WriteError writes one.
type Error struct {
	// Status is the HTTP status: 400 when zero, or when not a 4xx or 5xx
	// status.
	Status int
	// Code is the OAuth error code.
	Code ErrorCode
	// Description is the error_description, for the client's developer.
	Description string
	// Challenge is the WWW-Authenticate header (RFC 6750 §3), "" for none.
	Challenge string
}

// Reject returns an *Error with status 400, as a Policy rejects a
// registration or an update with an RFC 7591 error.
func Reject(code ErrorCode, description string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Description: description}
}

func (e *Error) Error() string { return "dcr: rejected: " + string(e.Code) + ": " + e.Description }

// WriteError writes e with the headers of an error response:
// Content-Type: application/json, Cache-Control: no-store and Pragma:
// no-cache, and WWW-Authenticate when e has a Challenge. Headers already
// set on w, such as Allow or Retry-After, are kept.
func WriteError(w http.ResponseWriter, e *Error) {
	hdr := w.Header()
	setJSON(hdr)
	if e.Challenge != "" {
		hdr["Www-Authenticate"] = []string{e.Challenge}
	}
	body, _ := json.Marshal(struct {
		Error       ErrorCode `json:"error"`
		Description string    `json:"error_description"`
	}{e.Code, e.Description})
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	w.Write(body)
}

// The Handler's own answers.
var (
	errMethod        = &Error{http.StatusMethodNotAllowed, InvalidRequest, "The method is not allowed on this endpoint.", ""}
	errAuthorization = &Error{http.StatusBadRequest, InvalidRequest, "The Authorization header is not a single Bearer token.", `Bearer error="invalid_request"`}
	// RFC 6750 §3.1: no error code in the challenge when the request had no token.
	errNoToken         = &Error{http.StatusUnauthorized, InvalidToken, "A registration access token is required in the Authorization header.", "Bearer"}
	errNoInitialToken  = &Error{http.StatusUnauthorized, InvalidToken, "An initial access token is required in the Authorization header.", "Bearer"}
	errBadInitialToken = &Error{http.StatusUnauthorized, InvalidToken, "The initial access token is not valid.", `Bearer error="invalid_token"`}
	errClientID        = &Error{http.StatusBadRequest, InvalidRequest, "The client ID in the path is not valid.", ""}
	errNotFound        = &Error{http.StatusNotFound, InvalidRequest, "There is no such endpoint.", ""}
	errContentType     = &Error{http.StatusUnsupportedMediaType, InvalidRequest, "The Content-Type must be application/json.", ""}
	errTooLarge        = &Error{http.StatusRequestEntityTooLarge, InvalidRequest, "The request body is too large.", ""}
	errReadBody        = &Error{http.StatusBadRequest, InvalidRequest, "The request body could not be read.", ""}
	errNotObject       = &Error{http.StatusBadRequest, InvalidClientMetadata, "The request body must be a JSON object.", ""}
	errTooDeep         = &Error{http.StatusBadRequest, InvalidClientMetadata, "The client metadata is nested more than 32 levels deep.", ""}
	errTooLong         = &Error{http.StatusBadRequest, InvalidClientMetadata, "A string of the client metadata is longer than 8192 bytes.", ""}
	errNotUTF8         = &Error{http.StatusBadRequest, InvalidClientMetadata, "The request body must be UTF-8 (RFC 8259, section 8.1).", ""}
	errLoneSurrogate   = &Error{http.StatusBadRequest, InvalidClientMetadata, "A string of the client metadata escapes a lone surrogate (RFC 8259, section 8.2).", ""}
	errServer          = &Error{http.StatusInternalServerError, ServerError, "The authorization server could not process the request.", ""}
	errUnavailable     = &Error{http.StatusServiceUnavailable, TemporarilyUnavailable, "The authorization server is busy; try again later.", ""}
	errTimeout         = &Error{http.StatusGatewayTimeout, ServerError, "The authorization server did not get an answer in time.", ""}
)

// UnavailableError fails a registration or an update because a service
// a Policy depends on (say, the JWKS of a software statement's issuer) is
// unavailable for now: the request was not wrong, and may be sent again.
// It goes to Options.ErrorHandler like any failure of the application;
// DefaultErrorHandler answers 503 temporarily_unavailable, with a
// Retry-After of RetryAfter (rounded up to seconds, at most an hour) when
// it is not zero.
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error // the cause, for the logs; never shown to the client
}

// Unavailable returns an *UnavailableError.
func Unavailable(retryAfter time.Duration, err error) *UnavailableError {
	return &UnavailableError{RetryAfter: retryAfter, Err: err}
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "dcr: unavailable"
	}
	return "dcr: unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

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
		WriteError(w, errUnavailable)
	case errors.As(err, &ue):
		setRetryAfter(w.Header(), ue.RetryAfter)
		WriteError(w, errUnavailable)
	case errors.Is(err, context.DeadlineExceeded):
		WriteError(w, errTimeout)
	default:
		WriteError(w, errServer)
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
