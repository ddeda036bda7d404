package main

import (
	"strings"

	"github.com/dcr-go/dcr/internal/authleteenv"
)

const usageIntro = `Usage: example [-addr host:port]

Serves an authorization server's DCR endpoints: POST /register (RFC 7591)
and GET, PUT, DELETE /register/{client_id} (RFC 7592), with /healthz,
/readyz and /metrics, calling the Authlete service of the AUTHLETE_*
variables. Without them it runs an embedded Authlete emulator (clients in
memory), but only on a loopback address without a public DCR_PUBLIC_URL,
or with DCR_EMBEDDED_EMULATOR=true.

Environment:
`

// usageColumn is where a variable's description starts in -h, as in
// authleteenv.Usage; a name too long for it has its description on the
// next line.
const usageColumn = 32

// usage is the text of -h before the flags: the AUTHLETE_* variables, the
// settings declared, and the OTEL_* ones.
func usage() string {
	var b strings.Builder
	b.WriteString(usageIntro)
	b.WriteString(authleteenv.Usage)
	for _, d := range declared {
		writeVariable(&b, d.Name, d.Help)
	}
	b.WriteString(otelUsage)
	b.WriteString("\nFlags:\n")
	return b.String()
}

// writeVariable writes name and its help, each line of help from
// usageColumn.
func writeVariable(b *strings.Builder, name, help string) {
	indent := strings.Repeat(" ", usageColumn)
	line := "  " + name
	if len(line) < usageColumn {
		line += indent[len(line):]
	} else {
		line += "\n" + indent
	}
	b.WriteString(line)
	b.WriteString(strings.ReplaceAll(help, "\n", "\n"+indent))
	b.WriteString("\n")
}
