package clientmatrix

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// addedMembers are the members a server may set that the client did not
// send, and that change how the client works.
var addedMembers = []string{"scope", "application_type", "grant_types", "response_types", "token_endpoint_auth_method"}

// setMembers are compared as sets: their order does not matter.
var setMembers = []string{"redirect_uris", "grant_types", "response_types", "contacts", "post_logout_redirect_uris", "request_uris"}

// compare lists the members of sent that the registered client got has
// otherwise, and the members of addedMembers that the server set.
func compare(sent, got map[string]any) []Change {
	var changes []Change
	for _, name := range sortedKeys(sent) {
		s, g := sent[name], got[name]
		if s == nil {
			continue
		}
		if g == nil {
			changes = append(changes, Change{name, s, nil})
		} else if !sameValue(name, s, g) {
			changes = append(changes, Change{name, s, g})
		}
	}
	for _, name := range addedMembers {
		if _, ok := sent[name]; !ok && got[name] != nil && !emptyValue(got[name]) {
			changes = append(changes, Change{name, nil, got[name]})
		}
	}
	return changes
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func emptyValue(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return false
}

// sameValue compares the values of member name: scope as a set of words,
// the members of setMembers as sets, the others as JSON.
func sameValue(name string, a, b any) bool {
	if name == "scope" {
		as, aok := a.(string)
		bs, bok := b.(string)
		return aok && bok && sameSet(strings.Fields(as), strings.Fields(bs))
	}
	if slices.Contains(setMembers, name) {
		as, aok := stringList(a)
		bs, bok := stringList(b)
		if aok && bok {
			return sameSet(as, bs)
		}
	}
	return canonical(a) == canonical(b)
}

// stringList is v as a list of strings.
func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func canonical(v any) string {
	data, err := json.Marshal(v) // map keys sorted
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// show is a value in a report: JSON, without HTML escaping.
func show(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// missing lists what c needs and the registered client got lacks.
func missing(c Client, got map[string]any) []string {
	var out []string
	if sent, ok := stringList(c.Request["redirect_uris"]); ok {
		echoed, _ := stringList(got["redirect_uris"])
		for _, u := range sent {
			if !slices.Contains(echoed, u) {
				out = append(out, fmt.Sprintf("its redirect URI %s in redirect_uris", u))
			}
		}
	}
	if c.Needs.Secret {
		method, _ := c.Request["token_endpoint_auth_method"].(string)
		if method == "" {
			method = "client_secret_basic" // RFC 7591 §2
		}
		if s, _ := got["client_secret"].(string); s == "" {
			out = append(out, "a client_secret for "+method)
		} else if m, _ := got["token_endpoint_auth_method"].(string); m != "" && m != method {
			out = append(out, fmt.Sprintf("token_endpoint_auth_method %s (got %s)", method, m))
		}
	}
	if c.Needs.RefreshToken {
		grants, ok := stringList(got["grant_types"])
		if !ok || !slices.Contains(grants, "refresh_token") {
			out = append(out, "the refresh_token grant")
		}
	}
	if c.Needs.Management {
		if u, _ := got["registration_client_uri"].(string); u == "" {
			out = append(out, "registration_client_uri (RFC 7592)")
		}
	}
	return out
}

// updateBody is the RFC 7592 §2.2 update of reg: the metadata sent, with
// client_id and, when one was issued, client_secret.
func updateBody(sent map[string]any, reg registration) []byte {
	m := make(map[string]any, len(sent)+2)
	for k, v := range sent {
		m[k] = v
	}
	m["client_id"] = reg.clientID
	if reg.secret != "" {
		m["client_secret"] = reg.secret
	}
	data, _ := json.Marshal(m)
	return data
}
