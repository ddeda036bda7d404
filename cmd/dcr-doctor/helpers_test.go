package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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
