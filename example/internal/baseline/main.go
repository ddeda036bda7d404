// Command baseline is the minimal Go DCR handler that
// BenchmarkEndToEndCPU measures the example against: POST /register reads
// the body, calls Authlete's client registration API with the project's
// Authlete client, and writes Authlete's answer with its status; it
// checks, limits, logs and measures nothing. It is not for use.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/dcr-go/dcr/authlete"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	client, err := authlete.New(authlete.ConfigFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		resp, err := client.Register(r.Context(), &authlete.Request{JSON: string(body)})
		if err != nil {
			http.Error(w, "backend failed", http.StatusInternalServerError)
			return
		}
		status := http.StatusBadRequest
		switch resp.Action {
		case authlete.ActionCreated:
			status = http.StatusCreated
		case authlete.ActionInternalServerError:
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		io.WriteString(w, resp.ResponseContent)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("serving DCR endpoints listen=%s\n", ln.Addr())
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
