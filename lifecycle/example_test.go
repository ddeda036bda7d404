package lifecycle_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/lifecycle"
)

func ExampleRun() {
	ctx := context.Background()
	srv := httptest.NewServer(authletetest.New(authletetest.Options{}))
	defer srv.Close()
	cfg := authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken}
	client, _ := authlete.New(cfg)
	admin := client.Admin()

	// Three clients register; one of them gets a token. (Without
	// AnyAge, only clients older than 30 days would be stale.)
	for i := 0; i < 3; i++ {
		client.Register(ctx, &authlete.Request{JSON: `{"client_name":"Claude"}`})
	}
	page, _ := admin.ListClients(ctx, 0, 1)
	authletetest.CreateToken(ctx, cfg, page.Clients[0].ID(), "alice", nil)

	report, err := lifecycle.Run(ctx, admin, lifecycle.Options{OlderThan: lifecycle.AnyAge, Logger: slog.New(slog.DiscardHandler)})
	fmt.Println(err, report.Kept, report.Deleted)
	_, err = admin.GetClient(ctx, strconv.FormatInt(page.Clients[0].ClientID, 10))
	fmt.Println(err)
	// Output:
	// <nil> 1 2
	// <nil>
}
