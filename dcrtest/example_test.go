package dcrtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/lifecycle"
)

// A test of an application's DCR endpoints: register, read the client
// back at its registration_client_uri, give it a token as if it had been
// used, and see the janitor keep it and remove a client never used.
func Example() {
	// In a test: srv := dcrtest.NewServer(t, dcrtest.Options{}), closed
	// when the test ends.
	srv, _ := dcrtest.Start(dcrtest.Options{})
	defer srv.Close()

	register := func(name string) (id, uri, token string) {
		resp, err := http.Post(srv.RegistrationEndpoint, "application/json",
			strings.NewReader(`{"client_name":"`+name+`","redirect_uris":["http://localhost:6274/oauth/callback"]}`))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var client map[string]any
		json.NewDecoder(resp.Body).Decode(&client)
		fmt.Println(resp.StatusCode, strings.HasPrefix(client["registration_client_uri"].(string), srv.RegistrationEndpoint+"/"))
		return client["client_id"].(string), client["registration_client_uri"].(string), client["registration_access_token"].(string)
	}
	used, uri, token := register("MCP Inspector")
	register("Left behind")

	req, _ := http.NewRequest("GET", uri, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// The client is in use: it holds an access token.
	ctx := context.Background()
	authletetest.CreateToken(ctx, srv.AuthleteConfig, used, "alice", []string{"mcp"})

	report, _ := lifecycle.Run(ctx, srv.Client.Admin(), lifecycle.Options{OlderThan: lifecycle.AnyAge, DryRun: true, Logger: slog.New(slog.DiscardHandler)})
	for _, a := range report.Actions {
		fmt.Println(a.Kind, a.ClientName)
	}
	// Unordered output:
	// 201 true
	// 201 true
	// 200
	// keep MCP Inspector
	// delete Left behind
}
