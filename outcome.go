package dcr

import (
	"encoding/json"
	"errors"

	"github.com/dcr-go/dcr/authlete"
)

// Op is the operation a request asks for.
type Op string

// The operations of the two endpoints.
const (
	OpRegister Op = "register" // POST to the registration endpoint (RFC 7591)
	OpGet      Op = "get"      // GET of a client configuration (RFC 7592 §2.1)
	OpUpdate   Op = "update"   // PUT of a client configuration (RFC 7592 §2.2)
	OpDelete   Op = "delete"   // DELETE of a client configuration (RFC 7592 §2.3)
)

// outcome is what became of one request. The Handler decides it first,
// then answers from it, gives back an initial access token's use from it,
// and makes the Event of Options.Audit from it: the Event only observes.
type outcome struct {
	op       Op
	clientID string // the client of the path, without the token; see Event.ClientID
	token    string // the request's bearer token, to keep out of the logs; never in an Event

	refusal *Error // the Handler's own answer, when it answers the request itself
	allow   string // the Allow header of a 405

	called bool               // whether the Backend was called
	resp   *authlete.Response // its answer
	err    error              // the failure that goes to the error handler

	spent bool // whether an initial access token's use was taken for the request
}

// mayHaveClient reports whether Authlete may have created a client for
// the request: it was called, and neither answered BAD_REQUEST nor
// refused the call itself with a 4xx status (bad credentials, rate
// limiting). A call that panicked, failed or timed out may have.
func (o *outcome) mayHaveClient() bool {
	if !o.called {
		return false
	}
	if o.err != nil {
		var ae *authlete.Error
		return !(errors.As(o.err, &ae) && ae.Err == nil && ae.StatusCode >= 400 && ae.StatusCode < 500)
	}
	return o.resp == nil || o.resp.Action != authlete.ActionBadRequest
}

// event is the Event of the request that o became, whose response had
// status.
func (o *outcome) event(status int) Event {
	e := Event{Op: o.op, ClientID: o.clientID, Status: status}
	if o.resp != nil {
		e.Action, e.ResultCode = o.resp.Action, o.resp.ResultCode
		if o.err == nil || errors.As(o.err, new(*unwritten)) {
			e.describe(o.resp)
		}
	}
	switch {
	case o.refusal != nil:
		e.ErrorCode = o.refusal.Code
	case o.err != nil:
		e.Err = safeError(o.err, o.token)
		var ae *authlete.Error
		if errors.As(o.err, &ae) {
			e.ResultCode = ae.ResultCode
		}
	}
	return e
}

// describe fills in what e learns from the body of Authlete's answer: the
// error code of a refusal, the client ID of a registration.
func (e *Event) describe(resp *authlete.Response) {
	switch resp.Action {
	case authlete.ActionOK, authlete.ActionUpdated, authlete.ActionDeleted:
		return // no error; the client ID is the path's
	}
	if resp.ResponseContent == "" {
		return
	}
	var content struct {
		ClientID string    `json:"client_id"`
		Error    ErrorCode `json:"error"`
	}
	if json.Unmarshal([]byte(resp.ResponseContent), &content) != nil {
		return
	}
	e.ErrorCode = content.Error
	if resp.Action == authlete.ActionCreated {
		e.ClientID = content.ClientID
	}
}
