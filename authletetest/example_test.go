package authletetest_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// In a test, authletetest.NewServer(t, opts) does this in one call and
// closes the server when the test ends.
func Example() {
	emulator := authletetest.New(authletetest.Options{ManagementEndpoint: "https://as.example.com/register"})
	srv := httptest.NewServer(emulator)
	defer srv.Close()
	c, _ := authlete.New(authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken})

	resp, _ := c.Register(context.Background(), &authlete.Request{JSON: `{"redirect_uris":["https://app.example.com/cb#x"]}`})
	fmt.Println(resp.Action, resp.ResponseContent)

	emulator.Inject(authletetest.Fault{Op: "get", Drop: true})
	_, err := c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
	fmt.Println(err != nil, emulator.Calls("get"))
	// Output:
	// BAD_REQUEST {"error":"invalid_redirect_uri","error_description":"[A202202] The redirect URI 'https://app.example.com/cb#x' has a fragment component.","error_uri":"https://docs.authlete.com/#A202202"}
	// true 3
}
