package dcr_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
)

// fakeAuthlete stands in for Authlete here; it answers every call with
// CREATED. In tests, use the authletetest emulator instead.
func fakeAuthlete() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"resultCode":"A202001","action":"CREATED","responseContent":"{\"client_id\":\"4711\"}"}`)
	}))
}

func Example() {
	authleteServer := fakeAuthlete()
	defer authleteServer.Close()

	// In production: authlete.New(authlete.ConfigFromEnv()).
	client, err := authlete.New(authlete.Config{
		BaseURL:            authleteServer.URL,
		ServiceAPIKey:      "21653835348762",
		ServiceAccessToken: "service-access-token",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", dcr.New(client, dcr.Options{}))

	req := httptest.NewRequest("POST", "/register", strings.NewReader(`{"client_name":"My Client"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Cache-Control"), rec.Body.String())
	// Output: 201 no-store {"client_id":"4711"}
}

func ExampleMount_chi() {
	authleteServer := fakeAuthlete()
	defer authleteServer.Close()
	client, err := authlete.New(authlete.Config{BaseURL: authleteServer.URL, ServiceAPIKey: "1", ServiceAccessToken: "t"})
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
