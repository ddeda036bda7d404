package softwarestatement_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
	"github.com/dcr-go/dcr/softwarestatement"
)

func ExampleVerifier_Verify() {
	// An issuer's key and its JWKS.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1"}}})
	}))
	defer jwks.Close()
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	payload, _ := json.Marshal(map[string]any{"iss": "https://issuer.example", "iat": time.Now().Unix(),
		"software_id": "mcp-inspector", "client_name": "MCP Inspector"})
	jws, _ := signer.Sign(payload)
	statement, _ := jws.CompactSerialize()

	v, err := softwarestatement.New(softwarestatement.Options{Issuers: map[string]string{"https://issuer.example": jwks.URL}})
	if err != nil {
		panic(err)
	}
	p := policy.SoftwareStatement(true, v.Verify) // then the other policies
	m := dcr.Metadata{"software_statement": statement, "client_name": "Someone else", "redirect_uris": []any{"http://localhost:6274/cb"}}
	fmt.Println(p(httptest.NewRequest("POST", "/register", nil), m), m["client_name"], m["software_id"])
	fmt.Println(p(httptest.NewRequest("POST", "/register", nil), dcr.Metadata{}))
	// Output:
	// <nil> MCP Inspector mcp-inspector
	// dcr: rejected: invalid_software_statement: A software statement is required.
}
