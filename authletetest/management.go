package authletetest

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// The calls beyond DCR that manage the service's clients and read its
// settings, one function each (see routes).

// notFound refuses a call on a client that does not exist.
func notFound(w http.ResponseWriter) {
	refuse(w, http.StatusNotFound, "A001310", "The client does not exist.", "")
}

// badPage refuses a list whose start and end pageOf cannot read.
func badPage(w http.ResponseWriter) {
	refuse(w, http.StatusBadRequest, "A001201", "start and end must be numbers, 0 <= start <= end.", "")
}

// listClients answers client/get/list: the clients in the order of
// their creation.
func (e *Emulator) listClients(w http.ResponseWriter, r *http.Request, _ string) {
	start, end, ok := pageOf(r)
	if !ok {
		badPage(w)
		return
	}
	e.mu.Lock()
	clients := e.sortedClients()
	list := struct {
		Start      int              `json:"start"`
		End        int              `json:"end"`
		TotalCount int              `json:"totalCount"`
		Clients    []authleteClient `json:"clients"`
	}{Start: start, End: end, TotalCount: len(clients), Clients: []authleteClient{}}
	for _, c := range clients[min(start, len(clients)):min(end, len(clients))] {
		list.Clients = append(list.Clients, e.authleteClient(c))
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// sortedClients are the clients in the order of their creation. The
// caller holds e.mu.
func (e *Emulator) sortedClients() []*client {
	clients := make([]*client, 0, len(e.clients))
	for _, c := range e.clients {
		clients = append(clients, c)
	}
	slices.SortFunc(clients, func(a, b *client) int { return a.number - b.number })
	return clients
}

// getClient answers client/get/{clientId}.
func (e *Emulator) getClient(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	c := e.clients[id]
	var out authleteClient
	if c != nil {
		out = e.authleteClient(c)
	}
	e.mu.Unlock()
	if c == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteClient answers client/delete/{clientId}: the client and its
// tokens are gone.
func (e *Emulator) deleteClient(w http.ResponseWriter, _ *http.Request, id string) {
	e.mu.Lock()
	_, ok := e.clients[id]
	delete(e.clients, id)
	e.dropTokens(id)
	e.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// lockClient answers client/lock_flag/update/{clientIdentifier}; the body
// is JSON or a form.
func (e *Emulator) lockClient(w http.ResponseWriter, r *http.Request, id string) {
	var req struct {
		ClientLocked *bool `json:"clientLocked"`
	}
	form, isForm, err := readBody(w, r, &req)
	if isForm {
		if b, perr := strconv.ParseBool(form.Get("clientLocked")); perr == nil {
			req.ClientLocked = &b
		}
	}
	if err != nil || req.ClientLocked == nil {
		refuse(w, http.StatusBadRequest, "A001201", "The request body must be {\"clientLocked\": true|false}, as JSON or a form.", "")
		return
	}
	e.mu.Lock()
	c := e.clients[id]
	if c != nil && c.locked != *req.ClientLocked {
		c.locked, c.modified = *req.ClientLocked, e.opts.Now()
	}
	e.mu.Unlock()
	if c == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"resultCode": "A145001", "resultMessage": "[A145001] The lock flag was updated."})
}

// getService answers service/get.
func (e *Emulator) getService(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, e.service())
}

// service is the Service object of /service/get, in part.
func (e *Emulator) service() map[string]any {
	id, _ := strconv.ParseInt(e.opts.ServiceID, 10, 64)
	svc := map[string]any{
		"apiKey":                              id,
		"serviceName":                         "Authlete emulator",
		"dynamicRegistrationSupported":        !e.opts.NoDynamicRegistration,
		"registrationEndpoint":                e.opts.ManagementEndpoint,
		"registrationManagementEndpoint":      e.opts.ManagementEndpoint,
		"unauthorizedOnClientConfigSupported": !e.opts.BadRequestOnClientConfig,
		"loopbackRedirectionUriVariable":      !e.opts.FixedLoopbackPort,
		"dcrScopeUsedAsRequestable":           e.opts.DCRScopeUsedAsRequestable,
		"dcrDuplicateSoftwareIdBlocked":       e.opts.DuplicateSoftwareIDBlocked,
		"clientIdMetadataDocumentSupported":   e.opts.CIMD.Supported,
		"httpAliasProhibited":                 e.opts.CIMD.HTTPAliasProhibited,
		"cimdHttpPermitted":                   e.opts.CIMD.HTTPPermitted,
		"cimdQueryPermitted":                  e.opts.CIMD.QueryPermitted,
		"cimdAllowlistEnabled":                e.opts.CIMD.AllowlistEnabled,
		"cimdMetadataPolicyEnabled":           e.opts.CIMD.MetadataPolicyEnabled,
		"cimdMetadataPolicy":                  e.opts.CIMD.MetadataPolicy,
	}
	if e.opts.CIMD.Allowlist != nil {
		svc["cimdAllowlist"] = e.opts.CIMD.Allowlist // an array, or absent: never null
	}
	return svc
}

// readBody decodes r's body into v when it is JSON; a form (the
// specification allows application/x-www-form-urlencoded for
// auth/token/create and client/lock_flag/update) is returned as such.
func readBody(w http.ResponseWriter, r *http.Request, v any) (form url.Values, isForm bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		err := r.ParseForm()
		return r.PostForm, true, err
	}
	return nil, false, json.NewDecoder(r.Body).Decode(v)
}

// pageOf reads the start and end query parameters (defaults 0 and 5).
func pageOf(r *http.Request) (start, end int, ok bool) {
	q := r.URL.Query()
	start, end = 0, 5
	for name, v := range map[string]*int{"start": &start, "end": &end} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return 0, 0, false
			}
			*v = n
		}
	}
	return start, end, start <= end
}
