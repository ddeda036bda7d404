package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
)

// holdingServer is an RFC 7591/7592 server of the test's own. Its first
// client's DELETE is refused; the read of its second is held until the
// request is cancelled, after closing held.
type holdingServer struct {
	mu       sync.Mutex
	base     string
	log      []string
	created  []string
	deleted  []string // the DELETEs it got
	held     chan struct{}
	holdPost bool // hold the first registration instead
	// heldDelete, if not nil, is closed when the DELETE of the second
	// client comes, which is then held too.
	heldDelete chan struct{}
}

func (s *holdingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.log = append(s.log, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body, _ := io.ReadAll(r.Body)
	id := strings.TrimPrefix(r.URL.Path, "/register/")
	hold := func() {
		close(s.held)
		<-r.Context().Done()
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/register":
		if s.holdPost {
			hold()
			return
		}
		var meta map[string]any
		if json.Unmarshal(body, &meta) != nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_client_metadata"}`))
			return
		}
		s.mu.Lock()
		id = fmt.Sprintf("client-%d", len(s.created)+1)
		s.created = append(s.created, id)
		s.mu.Unlock()
		meta["client_id"] = id
		meta["registration_client_uri"] = s.base + "/register/" + id
		meta["registration_access_token"] = "token-" + id
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(meta)
	case r.Method == http.MethodGet && id == "client-2":
		hold()
	case r.Method == http.MethodGet, r.Method == http.MethodPut:
		w.Write([]byte(`{"client_id":"` + id + `"}`))
	case r.Method == http.MethodDelete && id == "client-2" && s.heldDelete != nil:
		close(s.heldDelete)
		<-r.Context().Done()
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		s.deleted = append(s.deleted, id)
		s.mu.Unlock()
		if id == "client-1" {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":"server_error"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (s *holdingServer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// TestClientsSIGTERM: dcr-doctor -clients, sent SIGTERM while a request
// of its hangs, registers no more, deletes every client it registered,
// lists the one the server refused to delete, and exits 1.
func TestClientsSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildDoctor(t)
	srv := &holdingServer{held: make(chan struct{})}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out, stderr strings.Builder
	cmd := exec.Command(bin, "-clients", ts.URL+"/register", "-only", "cursor-3,vscode,zed")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no AUTHLETE_*, no proxy
	require.NoError(t, cmd.Start())
	exited := wait(cmd)
	select {
	case <-srv.held:
	case err := <-exited:
		t.Fatalf("exited before the hold: %v\n%s\n%s\nserver:\n%s", err, out.String(), stderr.String(), srv)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := <-exited
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v", err)
	assert.Equal(t, 1, exit.ExitCode())

	srv.mu.Lock()
	defer srv.mu.Unlock()
	t.Logf("stdout:\n%s\nstderr:\n%s\nserver:\n%s", out.String(), stderr.String(), strings.Join(srv.log, "\n"))
	assert.Equal(t, []string{"client-1", "client-2"}, srv.created, "no registration after the signal")
	assert.ElementsMatch(t, srv.created, srv.deleted, "a DELETE for every client created")
	assert.Contains(t, out.String(), "Not deleted")
	assert.Regexp(t, `(?m)^  client_id client-1 at .*/register/client-1: DELETE answered 500 server_error$`, out.String())
	assert.NotContains(t, out.String(), "client_id client-2")
	assert.Contains(t, out.String(), "STOPPED: ")
	assert.Contains(t, stderr.String(), "terminated: stopping")
}

// TestClientsSecondSignal: a second SIGTERM, while the deletes run,
// exits at once, before the report.
func TestClientsSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildDoctor(t)
	srv := &holdingServer{held: make(chan struct{}), heldDelete: make(chan struct{})}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out, stderr strings.Builder
	cmd := exec.Command(bin, "-clients", ts.URL+"/register", "-only", "cursor-3,vscode,zed")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	require.NoError(t, cmd.Start())
	exited := wait(cmd)
	for i, event := range []chan struct{}{srv.held, srv.heldDelete} {
		select {
		case <-event:
		case err := <-exited:
			t.Fatalf("exited before hold %d: %v\n%s\n%s\nserver:\n%s", i, err, out.String(), stderr.String(), srv)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	}
	err := <-exited
	t.Logf("stdout:\n%s\nstderr:\n%s\nserver:\n%s", out.String(), stderr.String(), srv)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "exit: %v", err)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Empty(t, out.String(), "no report: it exited at once")
	assert.Contains(t, stderr.String(), "exiting, clients may be left registered")
}

func buildDoctor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dcr-doctor")
	build, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", build)
	return bin
}

func wait(cmd *exec.Cmd) <-chan error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

// TestClientsTimeout: -timeout bounds the whole run; a registration that
// got no answer by then is listed as a client that may exist.
func TestClientsTimeout(t *testing.T) {
	srv := &holdingServer{held: make(chan struct{}), holdPost: true}
	ts := httptest.NewUnstartedServer(srv)
	srv.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	defer ts.Close()
	var out strings.Builder
	err := run(context.Background(), []string{"-clients", ts.URL + "/register", "-only", "zed,cursor-3", "-timeout", "100ms", "-json"}, &out, authlete.Config{})
	assert.ErrorContains(t, err, "stopped before the end")
	var report struct {
		Clients   []json.RawMessage
		Leftovers []struct {
			Reason   string
			Possible bool
		}
		Stopped string
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &report), out.String())
	assert.Contains(t, report.Stopped, "-timeout 100ms")
	assert.Len(t, report.Clients, 1, "one registration, held; none after")
	require.Len(t, report.Leftovers, 1, out.String())
	assert.True(t, report.Leftovers[0].Possible)
	assert.Equal(t, "registration of cursor-3 got no answer: a client may exist", report.Leftovers[0].Reason)
	assert.Error(t, run(context.Background(), []string{"-clients", ts.URL + "/register", "-timeout", "0s"}, &out, authlete.Config{}))
}
