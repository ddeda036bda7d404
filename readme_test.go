package dcr_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goModule is a module of an application that uses the library, in a
// temporary directory, built as the README's Install section says.
type goModule struct {
	t   *testing.T
	dir string
}

// newModule runs, in a new directory, the README's go mod commands, with
// the replace pointing at this checkout instead of ../dcr.
func newModule(t *testing.T, readme string) *goModule {
	t.Helper()
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	m := &goModule{t, t.TempDir()}
	var ran int
	for _, block := range fencedBlocks(readme, "sh") {
		for _, line := range strings.Split(block, "\n") {
			line, _, _ = strings.Cut(line, "#")
			for _, cmd := range strings.Split(line, "&&") {
				args := strings.Fields(cmd)
				if len(args) < 3 || args[0] != "go" || args[1] != "mod" || (args[2] != "init" && args[2] != "edit") {
					continue
				}
				for i, a := range args {
					args[i] = strings.ReplaceAll(a, "=../dcr", "="+root)
				}
				m.run(args[1:]...)
				ran++
			}
		}
	}
	require.Equal(t, 2, ran, "the README's Install section runs go mod init and go mod edit")
	return m
}

func (m *goModule) write(name, content string) {
	m.t.Helper()
	path := filepath.Join(m.dir, filepath.FromSlash(name))
	require.NoError(m.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(m.t, os.WriteFile(path, []byte(content), 0o644))
}

func (m *goModule) run(args ...string) string {
	m.t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = m.dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(m.t, err, "go %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// fencedBlocks returns the contents of the README's ```lang blocks.
func fencedBlocks(markdown, lang string) []string {
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```")
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(markdown, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// fileComment is the first line of each Go snippet of the README: the
// file of the application module it is.
var fileComment = regexp.MustCompile(`^// ([a-z_/]+\.go)\n`)

// TestReadme builds an application module from the README: its Install
// commands, each Go snippet as the file its first line names, and the
// application test in testdata/consumer (the README's routers, with chi
// and ServeMux and the middleware of each shape, served by dcrtest
// through the four operations); then go vet and go test run in it.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := newModule(t, string(readme))
	snippets := fencedBlocks(string(readme), "go")
	require.NotEmpty(t, snippets)
	for _, s := range snippets {
		name := fileComment.FindStringSubmatch(s)
		require.NotNil(t, name, "a Go snippet of the README does not start with the name of its file:\n%s", s)
		m.write(name[1], s)
	}
	require.NoError(t, filepath.WalkDir("testdata/consumer", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/consumer", path)
		m.write(filepath.ToSlash(rel), string(data))
		return nil
	}))
	m.run("mod", "tidy")
	gofmt := exec.Command(filepath.Join(strings.TrimSpace(m.run("env", "GOROOT")), "bin", "gofmt"), "-l", ".")
	gofmt.Dir = m.dir
	out, err := gofmt.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, string(out), "gofmt would change these files of the README")
	m.run("vet", "./...")
	out = []byte(m.run("test", "-count=1", "-v", "./..."))
	for _, test := range []string{"TestRegistration", "TestConsumer", "TestForms"} {
		require.Contains(t, string(out), "--- PASS: "+test, string(out))
	}
}
