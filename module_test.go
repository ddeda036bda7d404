package dcr_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// leanModules are the modules that `go list -m all` names in an
// application that adds the library (README.md, Install): the library, what
// it compiles into the application, and the test-only requirements of its
// go.mod, which Go lists but never compiles into the application. A module
// added to the root go.mod goes here, and into the README's table.
var leanModules = map[string]string{
	"github.com/dcr-go/dcr":       "the library",
	"golang.org/x/text":           "policy (look-alike client names)",
	"golang.org/x/net":            "policy (the UTS 46 mapping of hosts, idna)",
	"golang.org/x/crypto":         "golang.org/x/net's go.mod",
	"golang.org/x/sys":            "golang.org/x/net's go.mod",
	"golang.org/x/term":           "golang.org/x/net's go.mod",
	"github.com/go-chi/chi/v5":    "the library's tests (TestMount)",
	"github.com/stretchr/testify": "the library's tests",
	"go.yaml.in/yaml/v3":          "testify's YAML assertions",
	"pgregory.net/rapid":          "the library's property tests",
	"golang.org/x/mod":            "golang.org/x/text's go.mod (its generators)",
	"golang.org/x/sync":           "golang.org/x/text's go.mod (its generators)",
	"golang.org/x/tools":          "golang.org/x/text's go.mod (its generators)",
}

// TestLeanModule adds the library to an application as the README says
// (a module that imports every package, with a replace to this checkout)
// and checks that its version selection is exactly leanModules, and that
// the root's own (no workspace) names none of the other modules'
// dependencies.
func TestLeanModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := newModule(t, string(readme))
	m.write("main.go", `package main

import (
	"net/http"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/dcrtest"
	"github.com/dcr-go/dcr/doctor"
	"github.com/dcr-go/dcr/iat"
	"github.com/dcr-go/dcr/iat/iattest"
	"github.com/dcr-go/dcr/lifecycle"
	"github.com/dcr-go/dcr/policy"
)

var (
	_ = authletetest.New
	_ = dcrtest.Start
	_ = iat.NewMemory
	_ = iattest.Run
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
	m.run("mod", "tidy")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(m.run("list", "-m", "-f", "{{.Path}}", "all")), "\n") {
		if line != "example.com/myapp" {
			got = append(got, line)
		}
	}
	want := make([]string, 0, len(leanModules))
	for path := range leanModules {
		want = append(want, path)
	}
	require.ElementsMatch(t, want, got, "go list -m all in an application that adds the library")

	// And at the root: no workspace brings the other modules in.
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, dep := range []string{"redis", "prometheus", "httprate", "rs/cors", "opentelemetry", "go-jose", "kin-openapi", "chromedp"} {
		require.NotContains(t, string(out), dep, "go list -m all at the root names %s", dep)
	}
}
