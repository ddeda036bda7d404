package authletetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// metadata is the client metadata the emulator understands (RFC 7591 §2,
// OpenID Connect DCR §2). Other members are ignored, as RFC 7591 requires.
type metadata struct {
	RedirectURIs            []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types,omitempty"`
	ApplicationType         string          `json:"application_type,omitempty"`
	ClientName              string          `json:"client_name,omitempty"`
	ClientURI               string          `json:"client_uri,omitempty"`
	LogoURI                 string          `json:"logo_uri,omitempty"`
	Scope                   string          `json:"scope,omitempty"`
	Contacts                []string        `json:"contacts,omitempty"`
	TOSURI                  string          `json:"tos_uri,omitempty"`
	PolicyURI               string          `json:"policy_uri,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	SoftwareID              string          `json:"software_id,omitempty"`
	SoftwareVersion         string          `json:"software_version,omitempty"`
	// Tagged are the language-tagged members ("client_name#ja", OpenID
	// Connect DCR §2.1) of taggedMembers, sorted by name: Authlete keeps
	// them (the client's clientNames, logoUris, clientUris, policyUris and
	// tosUris) and answers with them.
	Tagged []taggedMember `json:"-"`
}

// taggedMembers are the members whose language-tagged variants Authlete
// keeps, and the property of its Client object that holds them.
var taggedMembers = map[string]string{
	"client_name": "clientNames", "logo_uri": "logoUris", "client_uri": "clientUris",
	"policy_uri": "policyUris", "tos_uri": "tosUris",
}

// taggedMember is a language-tagged member: name is "client_name#ja",
// base "client_name", tag "ja".
type taggedMember struct {
	name, base, tag, value string
}

// taggedValue is Authlete's tagged_value: a value and its language tag.
type taggedValue struct {
	Tag   string `json:"tag"`
	Value string `json:"value"`
}

// metadataError is a rejected metadata document: an RFC 7591 §3.2.2 error
// code and a description.
type metadataError struct {
	code, description string
}

func invalidMetadata(format string, args ...any) *metadataError {
	return &metadataError{"invalid_client_metadata", fmt.Sprintf(format, args...)}
}

func invalidRedirectURI(format string, args ...any) *metadataError {
	return &metadataError{"invalid_redirect_uri", fmt.Sprintf(format, args...)}
}

var knownGrantTypes = []string{
	"authorization_code", "implicit", "password", "client_credentials", "refresh_token",
	"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:device_code",
	"urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:token-exchange",
	"urn:ietf:params:oauth:grant-type:pre-authorized_code",
}

// parseMetadata decodes and checks a metadata document. raw holds its
// members, for the checks of RFC 7592 updates.
func parseMetadata(doc string, authMethods []string) (m *metadata, raw map[string]json.RawMessage, _ *metadataError) {
	if len(doc) > MaxMetadataBytes {
		return nil, nil, invalidMetadata("The client metadata is longer than %d bytes.", MaxMetadataBytes)
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil || raw == nil {
		return nil, nil, invalidMetadata("The client metadata is not a JSON object.")
	}
	m = new(metadata)
	for name, value := range raw {
		var field any
		switch name {
		case "redirect_uris":
			field = &m.RedirectURIs
		case "token_endpoint_auth_method":
			field = &m.TokenEndpointAuthMethod
		case "grant_types":
			field = &m.GrantTypes
		case "response_types":
			field = &m.ResponseTypes
		case "application_type":
			field = &m.ApplicationType
		case "client_name":
			field = &m.ClientName
		case "client_uri":
			field = &m.ClientURI
		case "logo_uri":
			field = &m.LogoURI
		case "scope":
			field = &m.Scope
		case "contacts":
			field = &m.Contacts
		case "tos_uri":
			field = &m.TOSURI
		case "policy_uri":
			field = &m.PolicyURI
		case "jwks_uri":
			field = &m.JWKSURI
		case "software_id":
			field = &m.SoftwareID
		case "software_version":
			field = &m.SoftwareVersion
		case "jwks":
			var set struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if json.Unmarshal(value, &set) != nil || set.Keys == nil {
				return nil, nil, invalidMetadata("The value of 'jwks' is not a JWK Set.")
			}
			m.JWKS = value
			continue
		default:
			base, tag, tagged := strings.Cut(name, "#")
			if _, kept := taggedMembers[base]; !tagged || !kept || string(value) == "null" {
				continue // unknown members are ignored (RFC 7591 §2)
			}
			var v string
			if json.Unmarshal(value, &v) != nil {
				return nil, nil, invalidMetadata("The value of '%s' has the wrong type.", name)
			}
			m.Tagged = append(m.Tagged, taggedMember{name, base, tag, v})
			continue
		}
		if string(value) == "null" {
			continue
		}
		if json.Unmarshal(value, field) != nil {
			if name == "redirect_uris" {
				return nil, nil, invalidRedirectURI("The value of 'redirect_uris' is not an array of strings.")
			}
			return nil, nil, invalidMetadata("The value of '%s' has the wrong type.", name)
		}
	}
	slices.SortFunc(m.Tagged, func(a, b taggedMember) int { return strings.Compare(a.name, b.name) })
	if err := m.check(authMethods); err != nil {
		return nil, nil, err
	}
	return m, raw, nil
}

// check validates m and fills in the defaults of RFC 7591 §2.
func (m *metadata) check(authMethods []string) *metadataError {
	for _, u := range m.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	for name, u := range map[string]string{"client_uri": m.ClientURI, "logo_uri": m.LogoURI,
		"tos_uri": m.TOSURI, "policy_uri": m.PolicyURI, "jwks_uri": m.JWKSURI} {
		if u != "" && !isAbsoluteURI(u) {
			return invalidMetadata("The value of '%s' is not an absolute URI.", name)
		}
	}
	for _, t := range m.Tagged {
		if t.base != "client_name" && t.value != "" && !isAbsoluteURI(t.value) {
			return invalidMetadata("The value of '%s' is not an absolute URI.", t.name)
		}
	}
	if m.JWKS != nil && m.JWKSURI != "" {
		return invalidMetadata("'jwks' and 'jwks_uri' must not be used together.")
	}
	switch m.ApplicationType {
	case "", "web", "native":
	default:
		return invalidMetadata("The value of 'application_type' must be 'web' or 'native'.")
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = "client_secret_basic"
	}
	if !slices.Contains(authMethods, m.TokenEndpointAuthMethod) {
		return invalidMetadata("The token endpoint authentication method '%s' is not supported.", m.TokenEndpointAuthMethod)
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range m.GrantTypes {
		if !slices.Contains(knownGrantTypes, g) {
			return invalidMetadata("The grant type '%s' is not supported.", g)
		}
	}
	if m.ResponseTypes == nil && slices.Contains(m.GrantTypes, "authorization_code") {
		m.ResponseTypes = []string{"code"}
	}
	return m.checkConsistency()
}

// checkConsistency applies RFC 7591 §2.1: the response types need the grant
// types that go with them, and the other way round.
func (m *metadata) checkConsistency() *metadataError {
	var code, implicit bool
	for _, rt := range m.ResponseTypes {
		parts := strings.Fields(rt)
		if len(parts) == 0 {
			return invalidMetadata("A response type is empty.")
		}
		// A response type is a set of values (OAuth 2.0 Multiple Response
		// Type Encoding Practices): "code code" names none of Authlete's.
		if len(slices.Compact(slices.Sorted(slices.Values(parts)))) != len(parts) {
			return invalidMetadata("The response type '%s' repeats a value.", rt)
		}
		for _, p := range parts {
			switch p {
			case "code":
				code = true
			case "token", "id_token":
				implicit = true
			case "none":
				if len(parts) > 1 {
					return invalidMetadata("The response type 'none' cannot be combined.")
				}
			default:
				return invalidMetadata("The response type '%s' is not supported.", rt)
			}
		}
	}
	hasCode := slices.Contains(m.GrantTypes, "authorization_code")
	hasImplicit := slices.Contains(m.GrantTypes, "implicit")
	switch {
	case code && !hasCode:
		return invalidMetadata("The response type 'code' needs the grant type 'authorization_code'.")
	case implicit && !hasImplicit:
		return invalidMetadata("The response types 'token' and 'id_token' need the grant type 'implicit'.")
	case hasCode && !code:
		return invalidMetadata("The grant type 'authorization_code' needs the response type 'code'.")
	case hasImplicit && !implicit:
		return invalidMetadata("The grant type 'implicit' needs the response type 'token' or 'id_token'.")
	}
	return nil
}

// checkRedirectURI applies RFC 6749 §3.1.2 and Authlete's own limits:
// absolute, no fragment, printable ASCII, at most 200 characters.
func checkRedirectURI(u string) *metadataError {
	if len(u) > 200 {
		return invalidRedirectURI("The redirect URI is longer than 200 characters.")
	}
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] >= 0x7f {
			return invalidRedirectURI("The redirect URI contains a character that is not printable ASCII.")
		}
	}
	if !isAbsoluteURI(u) {
		return invalidRedirectURI("The redirect URI '%s' is not an absolute URI.", u)
	}
	if strings.Contains(u, "#") {
		return invalidRedirectURI("The redirect URI '%s' has a fragment component.", u)
	}
	return nil
}

func isAbsoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}

// taggedValues returns the tagged variants of the member base, as
// Authlete's Client object holds them; nil if there are none.
func (m *metadata) taggedValues(base string) []taggedValue {
	var out []taggedValue
	for _, t := range m.Tagged {
		if t.base == base {
			out = append(out, taggedValue{t.tag, t.value})
		}
	}
	return out
}
