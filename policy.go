package dcr

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// A Policy checks, and may change, the client metadata of a registration
// (r.Method is POST) or an update (PUT) before Authlete is called. It
// rejects the request by returning an *Error (see Reject), which the
// client gets as it is, usually a 400 RFC 7591 error; any other error is
// a failure of the application, handed to Options.ErrorHandler. Changes to m are what
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

// applyPolicies runs the policies on the client metadata body and
// returns the body they leave, the refusal of a policy that rejects the
// request (or errNotObject for a body that is not a JSON object), or the
// failure of one that fails.
func (h *Handler) applyPolicies(r *http.Request, body []byte) (string, *Error, error) {
	if len(h.policies) == 0 {
		if !isJSONObject(body) {
			return "", errNotObject, nil
		}
		return string(body), nil, nil
	}
	m, ok := decodeMetadata(body)
	if !ok {
		return "", errNotObject, nil
	}
	for _, p := range h.policies {
		if err := p(r, m); err != nil {
			var refusal *Error
			if errors.As(err, &refusal) {
				return "", refusal, nil
			}
			return "", nil, err
		}
	}
	var out strings.Builder
	out.Grow(len(body) + 64)
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", nil, err
	}
	return strings.TrimSuffix(out.String(), "\n"), nil, nil
}

// decodeMetadata decodes body, and reports whether it is exactly one
// JSON object (RFC 8259) with optional white space around it: what
// isJSONObject checks, in the same pass over the body as the decoding.
func decodeMetadata(body []byte) (Metadata, bool) {
	var m Metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil { // not JSON, not an object, or null
		return nil, false
	}
	rest := body[dec.InputOffset():]
	return m, len(bytes.TrimLeft(rest, jsonSpace)) == 0
}
