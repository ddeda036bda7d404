package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
