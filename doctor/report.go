package doctor

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/dcr-go/dcr/authlete"
)

// Report is the check an application makes at start-up, in one call: it
// proves c's credentials (authlete.Client.Check) and logs, through logger,
// each setting of the service that breaks DCR or MCP clients of d (an
// Error finding at slog.LevelError, a Warning at slog.LevelWarn). It
// returns the findings, and an error when the credentials cannot be
// proven: Authlete refused them (an *authlete.Error whose Refused reports
// true; an application that starts anyway answers every registration with
// 500) or could not be asked. A service access token that may not read
// the service's settings is a warning in the log, not an error. A nil
// logger means slog.Default().
func Report(ctx context.Context, c *authlete.Client, d Deployment, logger *slog.Logger) ([]Finding, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := c.Check(ctx); err != nil {
		return nil, err
	}
	findings, err := Diagnose(ctx, c, d)
	var ae *authlete.Error
	switch {
	case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden:
		logger.WarnContext(ctx, "dcr: the service access token may not read the service's settings; they were not checked (run dcr-doctor with a token that may)")
		return nil, nil
	case err != nil:
		logger.WarnContext(ctx, "dcr: the service's settings could not be read; they were not checked", "error", err)
		return nil, nil
	}
	for _, f := range findings {
		level := slog.LevelWarn
		if f.Severity == Error {
			level = slog.LevelError
		}
		logger.Log(ctx, level, "dcr: Authlete service setting breaks DCR clients", "setting", f.Setting, "problem", f.Problem, "fix", f.Fix)
	}
	return findings, nil
}
