package policy_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

func ExampleNativeLoopback() {
	m := dcr.Metadata{"client_name": "Claude Code", "redirect_uris": []any{"http://localhost:54545/callback"}}
	policy.NativeLoopback()(httptest.NewRequest("POST", "/register", nil), m)
	fmt.Println(m["application_type"])
	// Output: native
}

func ExampleRedirectURIHosts() {
	p := policy.RedirectURIHosts("localhost", "127.0.0.1", "*.example.com")
	err := p(httptest.NewRequest("POST", "/register", nil), dcr.Metadata{"redirect_uris": []any{"https://evil.test/cb"}})
	fmt.Println(err)
	// Output: dcr: rejected: invalid_redirect_uri: The host of the redirect URI "https://evil.test/cb" is not allowed.
}
