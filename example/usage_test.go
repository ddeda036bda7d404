package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUsageColumns: in -h, every variable's description starts in one
// column, so that the list reads as a table; a name too long for the
// column has its description on the next line.
func TestUsageColumns(t *testing.T) {
	const column = usageColumn
	u := usage()
	env := u[strings.Index(u, "Environment:\n")+len("Environment:\n") : strings.Index(u, "\nFlags:")]
	lines := strings.Split(strings.TrimRight(env, "\n"), "\n")
	for i, line := range lines {
		name, rest, _ := strings.Cut(strings.TrimPrefix(line, "  "), " ")
		switch {
		case !strings.HasPrefix(line, "  "):
			t.Errorf("line %d is not indented: %q", i, line)
		case name == "": // a continuation
			if len(line) <= column || strings.TrimLeft(line, " ") != line[column:] {
				t.Errorf("line %d does not continue at column %d: %q", i, column, line)
			}
		case rest == "": // a long name alone
			if i+1 == len(lines) || !strings.HasPrefix(lines[i+1], strings.Repeat(" ", column)) {
				t.Errorf("the description of %s is not on the next line", name)
			}
		default:
			if len(line) <= column || line[column-1] != ' ' || line[column] == ' ' {
				t.Errorf("the description of %s does not start at column %d: %q", name, column, line)
			}
		}
	}
}

// TestBlackBoxHelp: each command's -h exits 0 and lists its flags and the
// environment variables it reads.
func TestBlackBoxHelp(t *testing.T) {
	t.Parallel()
	for pkg, want := range map[string][]string{
		".": {"-addr", "AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_ACCESSTOKEN", "DCR_PUBLIC_URL", "DCR_TRUSTED_PROXIES", "DCR_REDIS_URL", "DCR_IAT_STORE", "DCR_METADATA_POLICY", "DCR_SOFTWARE_STATEMENT_ISSUERS",
			"DCR_METRICS_ADDR", "DCR_EMBEDDED_EMULATOR", "DCR_INITIAL_ACCESS_TOKEN", "DCR_ALLOWED_SCOPES", "OTEL_EXPORTER_OTLP_ENDPOINT"},
		"github.com/dcr-go/dcr/cmd/dcr-janitor":       {"-dry-run", "-lock-file", "-concurrency", "DELETED AT ONCE", "AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_APISECRET"},
		"github.com/dcr-go/dcr/cmd/dcr-doctor":        {"-public-url", "AUTHLETE_BASE_URL", "DCR_PUBLIC_URL"},
		"github.com/dcr-go/dcr/cmd/authlete-emulator": {"-addr", "-management-endpoint", "-max-clients"},
		"github.com/dcr-go/dcr/example/cmd/dcr-iat":   {"issue -uses N -expires DURATION", "list", "revoke ID", "DCR_REDIS_URL"},
	} {
		p := start(t, binary(t, pkg, false), nil, "-h")
		p.wait(t, 60*time.Second)
		assert.NoError(t, p.err, "%s -h exits 0", pkg)
		for _, w := range want {
			assert.Contains(t, p.out.String(), w, pkg)
		}
		assert.NotContains(t, p.out.String(), "help requested", pkg)
	}
}

// TestUsageStatesDefaults: -h states the default of each setting that has
// one.
func TestUsageStatesDefaults(t *testing.T) {
	for _, d := range declared {
		if d.Default != "" {
			assert.Contains(t, d.Help, "(default "+d.Default, d.Name)
		}
	}
}

// listedRE is a variable -h lists on a line of its own.
var listedRE = regexp.MustCompile(`(?m)^  ([A-Z][A-Z0-9_]+)(?: |$)`)

// envNameRE is a variable's name in a string of the code.
var envNameRE = regexp.MustCompile(`\b(?:DCR|OTEL|AUTHLETE)_[A-Z0-9_]*[A-Z0-9]\b`)

// computedReads are the functions that read variables by names computed
// at run time, and why their names are listed.
var computedReads = map[string]string{
	"settingsFromEnv": "reads the settings declared, each a line of -h",
	"tracingFromEnv":  "reads names from a list of strings, checked as such",
	"checkOTLPEnv":    "reads names from lists of strings, checked as such",
}

// TestEveryVariableReadIsListed: each variable the example's code names,
// in a string or as the argument of os.Getenv or os.LookupEnv, is one -h
// lists: a DCR_* variable on a line of its own, another one at least in
// its text. A read of a name computed at run time (os.Getenv(name),
// os.Getenv passed as a function) fails the test, but in computedReads.
// So an os.Getenv("DCR_X") outside the table of settings fails it.
func TestEveryVariableReadIsListed(t *testing.T) {
	u := usage()
	listed := map[string]bool{}
	for _, m := range listedRE.FindAllStringSubmatch(u, -1) {
		listed[m[1]] = true
	}
	fset := token.NewFileSet()
	reported := map[token.Pos]bool{}
	check := func(pos token.Pos, name string) {
		if (strings.HasPrefix(name, "DCR_") && !listed[name] || !strings.Contains(u, name)) && !reported[pos] {
			reported[pos] = true
			t.Errorf("%s: %s is not listed by -h", fset.Position(pos), name)
		}
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	seen := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			fn, _ := decl.(*ast.FuncDecl)
			called := map[ast.Expr]bool{}
			ast.Inspect(decl, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if !isEnvRead(n.Fun) || len(n.Args) != 1 {
						break
					}
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						called[n.Fun] = true
						name, _ := strconv.Unquote(lit.Value)
						check(lit.Pos(), name)
					}
				case *ast.SelectorExpr:
					if isEnvRead(n) && !called[n] && (fn == nil || computedReads[fn.Name.Name] == "") {
						t.Errorf("%s: reads a variable by a name computed at run time, which this test cannot check", fset.Position(n.Pos()))
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						s, _ := strconv.Unquote(n.Value)
						for _, name := range envNameRE.FindAllString(s, -1) {
							seen++
							check(n.Pos(), name)
						}
					}
				}
				return true
			})
		}
	}
	assert.Greater(t, seen, len(declared), "the names found in the code")
}

// isEnvRead reports whether e is os.Getenv or os.LookupEnv.
func isEnvRead(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv")
}
