package clientmatrix

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteTable writes the report for people: one line per client and per
// check, with the reason, then the clients left registered and a summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CLIENT\tVERSION\tRESULT\tDETAIL\n")
	for _, c := range r.Clients {
		result := string(c.Outcome)
		if c.Failed {
			result = "FAIL " + result
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Version, result, oneLine(c.detail()))
	}
	fmt.Fprintf(tw, "\nCHECK\tSECTION\tRESULT\tDETAIL\n")
	for _, c := range r.Checks {
		result := string(c.Status)
		if c.Status == Fail {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Section, result, oneLine(c.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Leftovers) > 0 {
		fmt.Fprintf(w, "\nNot deleted (delete them in the authorization server):\n")
		for _, l := range r.Leftovers {
			id := "client_id " + oneLine(l.ClientID)
			if l.Possible {
				fmt.Fprintf(w, "  %s\n", oneLine(l.Reason))
				continue
			}
			if l.ClientID == "" {
				id = "a client without client_id"
			}
			if l.RegistrationClientURI != "" {
				fmt.Fprintf(w, "  %s at %s: %s\n", id, oneLine(l.RegistrationClientURI), oneLine(l.Reason))
			} else {
				fmt.Fprintf(w, "  %s: %s\n", id, oneLine(l.Reason))
			}
		}
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "\nSTOPPED: %s\n", oneLine(r.Stopped))
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.summary())
	return err
}

// detail is a client's line: why it failed, what changed, what it needs.
func (c ClientResult) detail() string {
	var parts []string
	if c.Outcome == Refused {
		s := fmt.Sprintf("%d", c.Status)
		if c.Error != "" {
			s += " " + c.Error
		}
		if c.ErrorDescription != "" {
			s += ": " + c.ErrorDescription
		}
		parts = append(parts, s)
	}
	if len(c.Missing) > 0 {
		parts = append(parts, "needs "+strings.Join(c.Missing, ", "))
	}
	parts = append(parts, c.Problems...)
	for _, ch := range c.Changes {
		parts = append(parts, ch.String())
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	if len(c.Management) > 0 {
		parts = append(parts, strings.Join(c.Management, ", "))
	}
	return strings.Join(parts, "; ")
}

func (r *Report) summary() string {
	var failedClients, failedChecks []string
	for _, c := range r.Clients {
		if c.Failed {
			failedClients = append(failedClients, c.Name)
		}
	}
	for _, c := range r.Checks {
		if c.Status == Fail {
			failedChecks = append(failedChecks, c.Name)
		}
	}
	if len(failedClients) == 0 && len(failedChecks) == 0 && r.Stopped == "" {
		return fmt.Sprintf("ok: no client and no check failed (%d clients, %d checks)", len(r.Clients), len(r.Checks))
	}
	s := "FAILED:"
	if r.Stopped != "" {
		s += " stopped before the end;"
	}
	if len(failedClients) > 0 {
		s += fmt.Sprintf(" %d client(s) (%s)", len(failedClients), strings.Join(failedClients, ", "))
	}
	if len(failedChecks) > 0 {
		s += fmt.Sprintf(" %d check(s) (%s)", len(failedChecks), strings.Join(failedChecks, ", "))
	}
	return s
}

// oneLine keeps a server's text on one line of the table, and inert: a
// character that is neither graphic nor a space (an escape sequence's
// ESC, a C1 control, a bidi override) is printed as U+FFFD.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if r != ' ' && !unicode.IsGraphic(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}
