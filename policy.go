package dcr

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// A Policy checks, and may change, the client metadata of a registration
// (r.Method is POST) or an update (PUT) before Authlete is called. It
// rejects the request by returning a *PolicyError, which the client gets
// as a 400 RFC 7591 error; any other error is a failure of the
// application, handed to Options.ErrorHandler. Changes to m are what
// Authlete gets. Package policy has ready ones.
type Policy func(r *http.Request, m Metadata) error

// Metadata is client metadata as the client sent it, member by member,
// decoded as encoding/json does into an any, but with numbers as
// json.Number.
type Metadata map[string]any

// String returns the string member name, and whether it is one.
func (m Metadata) String(name string) (string, bool) {
	s, ok := m[name].(string)
	return s, ok
}

// Strings returns the member name if it is an array of strings, and
// whether it is one.
func (m Metadata) Strings(name string) ([]string, bool) {
	a, ok := m[name].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(a))
	for i, v := range a {
		if out[i], ok = v.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// The RFC 7591 §3.2.2 error codes a Policy rejects with.
const (
	InvalidRedirectURI          = "invalid_redirect_uri"
	InvalidClientMetadata       = "invalid_client_metadata"
	InvalidSoftwareStatement    = "invalid_software_statement"
	UnapprovedSoftwareStatement = "unapproved_software_statement"
)

// PolicyError rejects a registration or an update with an RFC 7591 error:
// the client gets 400 and {"error": Code, "error_description":
// Description}.
type PolicyError struct {
	Code        string
	Description string
}

// Reject returns a *PolicyError.
func Reject(code, description string) *PolicyError {
	return &PolicyError{Code: code, Description: description}
}

func (e *PolicyError) Error() string { return "dcr: rejected: " + e.Code + ": " + e.Description }

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

// applyPolicies runs the policies on req.JSON and puts what they leave
// back into it. It answers the request itself and reports false when a
// policy rejects it or fails. token is the request's bearer token, kept
// out of the logs.
func (h *Handler) applyPolicies(w http.ResponseWriter, r *http.Request, ev *Event, req *authlete.Request, token string) bool {
	if len(h.policies) == 0 {
		return true
	}
	var m Metadata
	dec := json.NewDecoder(strings.NewReader(req.JSON))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil { // cannot happen: the body is a JSON object
		reject(w, ev, errNotObject, "")
		return false
	}
	for _, p := range h.policies {
		err := p(r, m)
		if err == nil {
			continue
		}
		var pe *PolicyError
		if errors.As(err, &pe) {
			reject(w, ev, localError{http.StatusBadRequest, pe.Code, pe.Description, ""}, "")
			return false
		}
		h.fail(w, r, ev, token, err)
		return false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		h.fail(w, r, ev, token, err)
		return false
	}
	req.JSON = strings.TrimSuffix(buf.String(), "\n")
	return true
}
