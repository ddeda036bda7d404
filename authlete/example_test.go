package authlete_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func ExampleNew() {
	_, err := authlete.New(authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "my-service"})
	fmt.Println(err)
	// Output: authlete: ServiceAPIKey (AUTHLETE_SERVICE_APIKEY) must be the numeric service ID for API v3
}

func ExampleError() {
	emulator := authletetest.New(authletetest.Options{})
	srv := httptest.NewServer(emulator)
	defer srv.Close()
	emulator.Inject(authletetest.Fault{Status: 429, RetryAfter: "30"})

	c, _ := authlete.New(authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken})
	_, err := c.Register(context.Background(), &authlete.Request{JSON: `{"client_name":"x"}`})

	var ae *authlete.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.Op, ae.StatusCode, ae.ResultCode, ae.RetryAfter)
	}
	// Output: register 429 A001106 30s
}
