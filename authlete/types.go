package authlete

import "encoding/json"

// Request is the body of Authlete's four DCR calls. Empty fields are left
// out of the JSON that is sent.
type Request struct {
	// JSON is the client's request body, passed to Authlete as a string
	// (register and update).
	JSON string `json:"json,omitempty"`
	// Token is the registration access token (get, update, delete).
	// Authlete also takes an initial access token on register but ignores
	// it; package dcr never sends one.
	Token string `json:"token,omitempty"`
	// ClientID is the client identifier (get, update, delete).
	ClientID string `json:"clientId,omitempty"`
}

// Response is Authlete's answer to a DCR call that it accepted (HTTP 200).
// The Action tells the caller what to send back to the OAuth client;
// ResponseContent is that body.
type Response struct {
	ResultCode      string `json:"resultCode"`
	ResultMessage   string `json:"resultMessage"`
	Action          Action `json:"action"`
	ResponseContent string `json:"responseContent,omitempty"`
	// Client is Authlete's Client object, undecoded. It is absent for
	// errors and for DELETED.
	Client json.RawMessage `json:"client,omitempty"`
}

// Action is the next step Authlete tells the authorization server to take.
type Action string

// The actions of Authlete's DCR API.
const (
	ActionCreated             Action = "CREATED"
	ActionOK                  Action = "OK"
	ActionUpdated             Action = "UPDATED"
	ActionDeleted             Action = "DELETED"
	ActionBadRequest          Action = "BAD_REQUEST"
	ActionUnauthorized        Action = "UNAUTHORIZED"
	ActionInternalServerError Action = "INTERNAL_SERVER_ERROR"
)
