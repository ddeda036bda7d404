package clientmatrix

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

// Client is how one known client, at one version, registers: the body of
// its RFC 7591 request and what it needs back.
type Client struct {
	// Name identifies the entry for Options.Only and Options.Skip, e.g.
	// "cursor-3".
	Name string `json:"name"`
	// Client is the product, e.g. "Cursor"; Only and Skip match it too.
	Client  string `json:"client"`
	Version string `json:"version"`
	// Payload says how the request is known: Captured or Inferred.
	Payload Payload `json:"payload"`
	// Source says where the payload comes from: an issue, a pull request,
	// a capture.
	Source []string `json:"source"`
	Note   string   `json:"note,omitempty"`
	// Origin, if not empty, is the browser origin the client registers
	// from: the endpoint must answer its CORS preflight.
	Origin string `json:"origin,omitempty"`
	// CIMDOnly: the client does not register; it identifies itself by a
	// Client ID Metadata Document.
	CIMDOnly bool  `json:"cimd_only,omitempty"`
	Needs    Needs `json:"needs"`
	// Request is the registration request's body.
	Request map[string]any `json:"request,omitempty"`
}

// Payload is how a Client's request is known.
type Payload string

const (
	// Captured: recorded from the client.
	Captured Payload = "captured"
	// Inferred: reconstructed from a report, the client's source or
	// documentation.
	Inferred Payload = "inferred"
)

// Needs are what a client must get back from its registration, beyond
// acceptance and its redirect URIs.
type Needs struct {
	// Secret: a client_secret, for the token_endpoint_auth_method it asks
	// (client_secret_post, client_secret_basic).
	Secret bool `json:"secret,omitempty"`
	// RefreshToken: the refresh_token grant among the registered ones.
	RefreshToken bool `json:"refresh_token,omitempty"`
	// Management: registration_client_uri and registration_access_token
	// (RFC 7592).
	Management bool `json:"registration_client_uri,omitempty"`
	// CORS: Access-Control-Allow-Origin for Origin on the preflight.
	CORS bool `json:"cors,omitempty"`
}

//go:embed testdata/clients.json
var corpusJSON []byte

// Corpus returns the known clients of testdata/clients.json, in its order.
func Corpus() []Client {
	clients, err := ParseCorpus(corpusJSON)
	if err != nil {
		panic(err) // the embedded corpus is tested
	}
	return clients
}

// ParseCorpus reads a corpus in the format of testdata/clients.json. Each
// entry needs a unique name, a source, a payload of "captured" or
// "inferred", and a request unless it is CIMD only.
func ParseCorpus(data []byte) ([]Client, error) {
	var doc struct {
		Format  int      `json:"format"`
		About   string   `json:"about"`
		Clients []Client `json:"clients"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("clientmatrix: corpus: %w", err)
	}
	if doc.Format != 1 {
		return nil, fmt.Errorf("clientmatrix: corpus format %d, want 1", doc.Format)
	}
	seen := map[string]bool{}
	for _, c := range doc.Clients {
		switch {
		case c.Name == "" || seen[c.Name]:
			return nil, fmt.Errorf("clientmatrix: corpus: entry %q: a name is required, and unique", c.Name)
		case len(c.Source) == 0:
			return nil, fmt.Errorf("clientmatrix: corpus: entry %q has no source", c.Name)
		case c.Payload != Captured && c.Payload != Inferred:
			return nil, fmt.Errorf("clientmatrix: corpus: entry %q: payload is %q, not captured or inferred", c.Name, c.Payload)
		case !c.CIMDOnly && c.Request == nil:
			return nil, fmt.Errorf("clientmatrix: corpus: entry %q has no request", c.Name)
		}
		seen[c.Name] = true
	}
	return doc.Clients, nil
}
