package clientmatrix_test

import (
	"context"
	"fmt"
	"os"

	"github.com/dcr-go/dcr/clientmatrix"
	"github.com/dcr-go/dcr/dcrtest"
)

func ExampleRun() {
	srv, err := dcrtest.Start(dcrtest.Options{}) // any RFC 7591 endpoint
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	report, err := clientmatrix.Run(context.Background(), clientmatrix.Options{
		Endpoint: srv.RegistrationEndpoint,
		Only:     []string{"Cursor", "zed", "fragment", "wrong-token"},
	})
	if err != nil {
		panic(err)
	}
	report.WriteTable(os.Stdout)
	fmt.Println("failed:", report.Failed())
	// Output:
	// CLIENT    VERSION  RESULT    DETAIL
	// cursor-1  1.x      accepted  read 200, update 200, deleted
	// cursor-3  3        accepted  read 200, update 200, deleted
	// zed       0.2xx    accepted  read 200, update 200, deleted
	//
	// CHECK        SECTION                         RESULT  DETAIL
	// fragment     RFC 7591 §2, §3.2.2             pass    400 invalid_redirect_uri
	// wrong-token  RFC 7592 §2.1-2.3, RFC 6750 §3  pass    GET, PUT, DELETE with a wrong token and without one: 401 with a Bearer challenge, no client data
	//
	// ok: no client and no check failed (3 clients, 2 checks)
	// failed: false
}
