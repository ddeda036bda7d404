package dcr_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/dcrtest"
)

// Registration behind the application's own check, client configuration
// behind the registration access token only: a Guard on one endpoint.
func ExampleMount_guard() {
	requireInitialToken := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token, _ := dcr.BearerToken(r); token != "iat-0123456789abcdef" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_token"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv, err := dcrtest.Start(dcrtest.Options{Router: func(h *dcr.Handler) http.Handler {
		r := chi.NewRouter()
		dcr.Mount(r, "/register", h, dcr.Guard{Register: requireInitialToken})
		return r
	}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	var client struct {
		URI   string `json:"registration_client_uri"`
		Token string `json:"registration_access_token"`
	}
	send := func(method, url, token, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			json.NewDecoder(resp.Body).Decode(&client)
		}
		return resp.StatusCode
	}
	metadata := `{"redirect_uris":["https://app.example/cb"]}`
	fmt.Println("register without the initial access token:", send("POST", srv.RegistrationEndpoint, "", metadata))
	fmt.Println("register with it:", send("POST", srv.RegistrationEndpoint, "iat-0123456789abcdef", metadata))
	fmt.Println("read with the registration access token:", send("GET", client.URI, client.Token, ""))
	fmt.Println("POST /register/:", send("POST", srv.RegistrationEndpoint+"/", "iat-0123456789abcdef", metadata))
	// Output:
	// register without the initial access token: 401
	// register with it: 201
	// read with the registration access token: 200
	// POST /register/: 404
}
