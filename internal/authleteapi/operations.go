// Package authleteapi is Authlete's API as package authlete calls it and
// package authletetest answers it: each operation with its names, method
// and path, in one table (so that a new operation is one row of it), the
// URL prefix of each API version, and the sending of one call.
package authleteapi

import (
	"net/http"
	"net/url"
	"strings"
)

// Op is one operation of Authlete's API.
type Op int

// The operations. Register, Get, Update and Delete are the DCR calls
// (RFC 7591 and 7592), made for a client with its registration access
// token in the body; the others administer the service with its own
// credentials alone.
const (
	Register Op = iota
	Get
	Update
	Delete
	// Check is Get, as authlete.Client.Check makes it: a name of its own
	// in errors, the same call for Authlete.
	Check
	ListClients
	GetClient
	DeleteClient
	LockClient
	CreateToken
	ListTokens
	GetService
)

// Operation is how an Op is spelt on each side.
type Operation struct {
	// Name is the call as authlete.Error.Op names it: "get client".
	Name string
	// Call is the call as authletetest's Emulator.Calls and Fault.Op name
	// it: the DCR calls by their Name, the others by Path without its
	// leading slash.
	Call string
	// Method is the HTTP method.
	Method string
	// Path follows the API prefix. With Param, the client ID is one more
	// segment: Path + "/{clientId}".
	Path  string
	Param bool
}

// operations is the table of Authlete's operations, by Op.
var operations = [...]Operation{
	Register:     {"register", "register", http.MethodPost, "/client/registration", false},
	Get:          {"get", "get", http.MethodPost, "/client/registration/get", false},
	Update:       {"update", "update", http.MethodPost, "/client/registration/update", false},
	Delete:       {"delete", "delete", http.MethodPost, "/client/registration/delete", false},
	Check:        {"check", "get", http.MethodPost, "/client/registration/get", false},
	ListClients:  {"list clients", "client/get/list", http.MethodGet, "/client/get/list", false},
	GetClient:    {"get client", "client/get", http.MethodGet, "/client/get", true},
	DeleteClient: {"delete client", "client/delete", http.MethodDelete, "/client/delete", true},
	LockClient:   {"lock client", "client/lock_flag/update", http.MethodPost, "/client/lock_flag/update", true},
	CreateToken:  {"create token", "auth/token/create", http.MethodPost, "/auth/token/create", false},
	ListTokens:   {"list tokens", "auth/token/get/list", http.MethodGet, "/auth/token/get/list", false},
	GetService:   {"get service", "service/get", http.MethodGet, "/service/get", false},
}

// Spec returns how op is spelt.
func (op Op) Spec() Operation { return operations[op] }

// Name is op as authlete.Error.Op names it.
func (op Op) Name() string { return operations[op].Name }

// String is op's Name.
func (op Op) String() string { return op.Name() }

// URL is op's path after the API prefix, with the client ID clientID
// when the path takes one, and the query.
func (op Op) URL(clientID string, query url.Values) string {
	o := operations[op]
	path := o.Path
	if o.Param {
		path += "/" + url.PathEscape(clientID)
	}
	if query != nil {
		path += "?" + query.Encode()
	}
	return path
}

// Match returns the operation that path (after the API prefix, without
// the query) names and its client ID, if it takes one. Check is never
// returned: for Authlete it is Get.
func Match(path string) (op Op, clientID string, ok bool) {
	for op, o := range operations {
		if Op(op) == Check {
			continue
		}
		if !o.Param {
			if path == o.Path {
				return Op(op), "", true
			}
		} else if id, found := strings.CutPrefix(path, o.Path+"/"); found && id != "" && !strings.Contains(id, "/") {
			return Op(op), id, true
		}
	}
	return 0, "", false
}
