package iatredis_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dcr-go/dcr/iat/iattest"
	"github.com/dcr-go/dcr/iatredis"
)

// startRedis starts a redis-server of its own on a Unix socket in a
// temporary directory (no port to race for, nothing on the network), and
// returns a client of it. Without redis-server the test is skipped, unless
// DCR_REQUIRE_REDIS is set (as scripts/test.sh does).
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("DCR_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is not installed (apt-get install -y redis-server); scripts/test.sh installs it")
		}
		t.Skip("redis-server is not installed; scripts/test.sh installs it")
	}
	sock := filepath.Join(t.TempDir(), "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Ready when it says so; its log is the failure message otherwise.
	var log strings.Builder
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(strings.ToLower(sc.Text()), "ready to accept connections") {
				ready <- true
				break
			}
		}
		close(ready)
		for sc.Scan() { // keep the pipe drained
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("redis-server exited:\n%s", log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("redis-server did not get ready in 30 s")
	}
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestStore: the Redis store keeps the iat.Store contract (package
// iattest), on a real redis-server.
func TestStore(t *testing.T) {
	iattest.Run(t, iatredis.New(startRedis(t)), time.Sleep)
}
