package clientmatrix

import (
	"context"
	"os"
	"testing"

	"github.com/dcr-go/dcr/dcrtest"
)

func TestSmoke(t *testing.T) {
	srv := dcrtest.NewServer(t, dcrtest.Options{})
	r, err := Run(context.Background(), Options{Endpoint: srv.RegistrationEndpoint})
	if err != nil {
		t.Fatal(err)
	}
	r.WriteTable(os.Stdout)
}
