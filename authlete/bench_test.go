package authlete_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// BenchmarkClientGet reads a client through the emulator over loopback
// HTTP with 1, 16 and 256 concurrent callers. Besides ns/op (the inverse
// of throughput) and allocations it reports conns: the TCP connections
// opened in all, which must stay at or below the number of callers, and
// closed: those closed while the benchmark ran (churn). The
// go-default-transport runs are the baseline: Go's default pool.
func BenchmarkClientGet(b *testing.B) {
	for _, callers := range []int{1, 16, 256} {
		for _, pool := range []string{"default", "MaxConns=callers", "go-default-transport"} {
			b.Run(fmt.Sprintf("callers=%d/%s", callers, pool), func(b *testing.B) {
				var opened, closed atomic.Int64
				srv := httptest.NewUnstartedServer(authletetest.New(authletetest.Options{}))
				srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
					switch s {
					case http.StateNew:
						opened.Add(1)
					case http.StateClosed:
						closed.Add(1)
					}
				}
				srv.Start()
				defer srv.Close()
				cfg := authlete.Config{BaseURL: srv.URL, ServiceAPIKey: authletetest.DefaultServiceID,
					ServiceAccessToken: authletetest.DefaultAccessToken}
				switch pool {
				case "MaxConns=callers":
					cfg.MaxConns = callers
				case "go-default-transport": // the baseline: 2 idle connections per host
					cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
				}
				c, err := authlete.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := c.Register(context.Background(), &authlete.Request{JSON: `{"redirect_uris":["https://a.example/cb"]}`})
				if err != nil {
					b.Fatal(err)
				}
				var reg struct {
					ID    string `json:"client_id"`
					Token string `json:"registration_access_token"`
				}
				json.Unmarshal([]byte(resp.ResponseContent), &reg)
				req := &authlete.Request{ClientID: reg.ID, Token: reg.Token}

				var next atomic.Int64
				var failed atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := 0; i < callers; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if r, err := c.Get(context.Background(), req); err != nil || r.Action != authlete.ActionOK {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if failed.Load() > 0 {
					b.Fatalf("%d of %d calls failed", failed.Load(), b.N)
				}
				b.ReportMetric(float64(opened.Load()), "conns")
				b.ReportMetric(float64(closed.Load()), "closed")
			})
		}
	}
}
