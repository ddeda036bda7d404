package dcr_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

func Example() {
	// An Authlete emulator on 127.0.0.1; in production, use
	// authlete.New(authlete.ConfigFromEnv()).
	emulator := httptest.NewServer(authletetest.New(authletetest.Options{}))
	defer emulator.Close()
	client, err := authlete.New(authlete.Config{
		BaseURL:            emulator.URL,
		ServiceAPIKey:      authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", dcr.New(client, dcr.Options{}))

	req := httptest.NewRequest("POST", "/register", strings.NewReader(
		`{"client_name":"My Client","redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)

	var registered struct {
		ClientName   string   `json:"client_name"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	json.Unmarshal(rec.Body.Bytes(), &registered)
	fmt.Println(rec.Code, rec.Header().Get("Cache-Control"), registered.ClientName, registered.RedirectURIs)
	// Output: 201 no-store My Client [http://127.0.0.1:33418/callback]
}

func ExampleMount_chi() {
	emulator := httptest.NewServer(authletetest.New(authletetest.Options{}))
	defer emulator.Close()
	client, err := authlete.New(authlete.Config{BaseURL: emulator.URL,
		ServiceAPIKey: authletetest.DefaultServiceID, ServiceAccessToken: authletetest.DefaultAccessToken})
	if err != nil {
		log.Fatal(err)
	}

	r := chi.NewRouter()
	dcr.Mount(r, "/register", dcr.New(client, dcr.Options{}))

	// A method the endpoint does not serve is answered by the handler.
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("PATCH", "/register/4711", nil))
	fmt.Println(rec.Code, rec.Header().Get("Allow"))
	fmt.Println(rec.Body.String())
	// Output:
	// 405 GET, PUT, DELETE
	// {"error":"invalid_request","error_description":"The method is not allowed on this endpoint."}
}

func ExampleBearerToken() {
	r := httptest.NewRequest("GET", "/register/4711", nil)
	r.Header.Set("Authorization", "bearer qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o-54GY4JU5vTA")
	token, err := dcr.BearerToken(r)
	fmt.Println(token, err)

	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	_, err = dcr.BearerToken(r)
	fmt.Println(err)
	// Output:
	// qs4Tu5TV7qqDYT93bFs6ISyhTByMF9o-54GY4JU5vTA <nil>
	// dcr: malformed Authorization header
}
