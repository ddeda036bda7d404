package authletetest

import (
	"encoding/json"
	"net/http"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/internal/authleteapi"
)

// handler answers one call of Authlete's API; clientID is the client ID
// of its path, if it takes one.
type handler func(e *Emulator, w http.ResponseWriter, r *http.Request, clientID string)

// routes are the calls the emulator answers, one function each, as
// Authlete's API v3 (under /api/{serviceId}) and v2 (under /api). Their
// methods, paths and names are authleteapi's, which package authlete
// calls: a new call is a row there and one here.
var routes = map[authleteapi.Op]handler{
	authleteapi.Register:     dcrCall((*Emulator).register),
	authleteapi.Get:          dcrCall((*Emulator).get),
	authleteapi.Update:       dcrCall((*Emulator).update),
	authleteapi.Delete:       dcrCall((*Emulator).delete),
	authleteapi.ListClients:  (*Emulator).listClients,
	authleteapi.GetClient:    (*Emulator).getClient,
	authleteapi.DeleteClient: (*Emulator).deleteClient,
	authleteapi.LockClient:   (*Emulator).lockClient,
	authleteapi.CreateToken:  (*Emulator).createToken,
	authleteapi.ListTokens:   (*Emulator).listTokens,
	authleteapi.GetService:   (*Emulator).getService,
}

// dcrCall is the handler of a DCR call: its body is an authlete.Request,
// its answer call's authlete.Response.
func dcrCall(call func(*Emulator, *authlete.Request) *authlete.Response) handler {
	return func(e *Emulator, w http.ResponseWriter, r *http.Request, _ string) {
		var req authlete.Request
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
			refuse(w, http.StatusBadRequest, "A001105", "The request body is not a JSON object of strings.", "")
			return
		}
		writeJSON(w, http.StatusOK, call(e, &req))
	}
}
