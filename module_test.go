package dcr_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeanModule adds the library to an application as a user would (a
// module that imports its packages, with a replace to this checkout) and
// checks that none of the example's dependencies enters the application's
// version selection.
func TestLeanModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/app\n\ngo 1.24\n\nrequire github.com/dcr-go/dcr v0.0.0\n\nreplace github.com/dcr-go/dcr => "+root+"\n")
	write("main.go", `package main

import (
	"net/http"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/doctor"
	"github.com/dcr-go/dcr/iat"
	"github.com/dcr-go/dcr/lifecycle"
	"github.com/dcr-go/dcr/policy"
)

var (
	_ = authletetest.New
	_ = dcrtest.Start
	_ = iat.NewMemory
	_ = doctor.Diagnose
	_ = lifecycle.Options{}
	_ = policy.NativeLoopback
)

func main() {
	c, _ := authlete.New(authlete.ConfigFromEnv())
	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", dcr.New(c, dcr.Options{}))
}
`)
	goCmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
	goCmd("mod", "tidy")
	modules := goCmd("list", "-m", "all")
	for _, dep := range []string{"redis", "prometheus", "httprate", "rs/cors", "opentelemetry", "realclientip", "go-jose", "kin-openapi", "chromedp", "redis_rate", "mtibben"} {
		require.NotContains(t, modules, dep, "an application that adds dcr gets the example's dependency %s", dep)
	}
	require.Contains(t, modules, "github.com/dcr-go/dcr")

	// And at the root: no workspace brings the other modules in.
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range []string{"redis", "prometheus", "httprate", "rs/cors", "opentelemetry", "go-jose", "kin-openapi", "chromedp"} {
		require.NotContains(t, string(out), dep, "go list -m all at the root names %s", dep)
	}
}
