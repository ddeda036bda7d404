// Package clientmatrix registers at an RFC 7591 endpoint as each known
// OAuth and MCP client would (Claude, ChatGPT, Cursor, VS Code, ...), and
// reports, per client, whether the server accepts it as sent, accepts it
// with changes, or refuses it, and what the client needs and did not get.
// It also runs the RFC 7591 and RFC 7592 assertions that apply to any DCR
// server. Every client it registers it deletes again.
//
// It sends requests to the endpoint it is given, and to the
// registration_client_uri values of the answers when they are on the
// endpoint's origin; never elsewhere. It does not follow redirects.
//
// dcr-doctor -clients URL runs it from the command line.
package clientmatrix

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Options configure Run. Only Endpoint is required.
type Options struct {
	// Endpoint is the registration endpoint, e.g.
	// https://auth.example.com/register.
	Endpoint string
	// InitialAccessToken, if not empty, is sent as a bearer token with
	// every registration (RFC 7591 §3). Empty sends none.
	InitialAccessToken string
	// Clients are the clients to register as. Nil means Corpus().
	Clients []Client
	// Only, if not empty, runs only the clients and checks named (a
	// client's Name or Client, a check's Name). Skip leaves out those it
	// names. A name that is neither is an error.
	Only, Skip []string
	// HTTPClient sends the requests. Nil means a client with a timeout of
	// 30 seconds per request, through the proxy of HTTPS_PROXY or
	// HTTP_PROXY if one is set. Redirects are never followed, whatever its
	// CheckRedirect.
	HTTPClient *http.Client
	// CIMD, if not nil, is what is known of the server's support of
	// Client ID Metadata Documents, for the clients that only use them
	// (dcr-doctor fills it from the Authlete service's settings). Nil
	// reports such clients as needing CIMD, not checked.
	CIMD *CIMD
	// CleanupTimeout bounds the deletes once ctx is done (a signal, a
	// deadline): Run deletes what it registered on a context of its own,
	// which ends CleanupTimeout after ctx. Zero means 10 seconds.
	CleanupTimeout time.Duration
}

// CIMD is what is known of a server's support of Client ID Metadata
// Documents.
type CIMD struct {
	// Supported: the server accepts clients by their metadata document.
	Supported bool
	// Findings are the problems found in that support (doctor findings).
	Findings []string
}

// Outcome is what became of one client.
type Outcome string

const (
	// Accepted: registered as sent.
	Accepted Outcome = "accepted"
	// Changed: registered, with members the server set, changed or
	// dropped.
	Changed Outcome = "changed"
	// Refused: the server answered the registration with an error.
	Refused Outcome = "refused"
	// NeedsCIMD: the client does not register; it uses a Client ID
	// Metadata Document.
	NeedsCIMD Outcome = "needs-cimd"
	// Unreachable: no answer (connection, timeout, CORS refused).
	Unreachable Outcome = "unreachable"
)

// Change is one member that the registered client has otherwise than the
// client sent it. Sent is nil for a member the server added, Got nil for
// one it dropped.
type Change struct {
	Member string `json:"member"`
	Sent   any    `json:"sent"`
	Got    any    `json:"got"`
}

func (c Change) String() string {
	switch {
	case c.Sent == nil:
		return fmt.Sprintf("%s set to %s", c.Member, show(c.Got))
	case c.Got == nil:
		return fmt.Sprintf("%s dropped (sent %s)", c.Member, show(c.Sent))
	}
	return fmt.Sprintf("%s %s -> %s", c.Member, show(c.Sent), show(c.Got))
}

// ClientResult is the report on one client.
type ClientResult struct {
	Name    string  `json:"name"`
	Client  string  `json:"client"`
	Version string  `json:"version"`
	Outcome Outcome `json:"outcome"`
	// Failed: the client cannot work with this server (refused, or
	// missing something it needs).
	Failed bool `json:"failed"`
	// Status, Error and ErrorDescription are the refusal's.
	Status           int      `json:"status,omitempty"`
	Error            string   `json:"error,omitempty"`
	ErrorDescription string   `json:"error_description,omitempty"`
	Changes          []Change `json:"changes,omitempty"`
	// Missing are what the client needs and did not get.
	Missing []string `json:"missing,omitempty"`
	// Management is what became of the RFC 7592 read, update and
	// delete, one line each.
	Management []string `json:"management,omitempty"`
	// Problems are other failures (CORS, a management call that failed).
	Problems []string `json:"problems,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Report is the result of Run.
type Report struct {
	Endpoint string         `json:"endpoint"`
	Clients  []ClientResult `json:"clients"`
	Checks   []CheckResult  `json:"checks"`
	// Leftovers are clients the doctor registered and could not delete,
	// and registrations that got no answer (Possible).
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// Stopped, if not empty, says why the run stopped before the end (its
	// context was cancelled: a signal, the overall timeout); the clients
	// and checks after it did not run.
	Stopped string `json:"stopped,omitempty"`
}

// Failed reports whether a client or a check failed, or the run stopped
// before the end. Leftovers alone do not fail: a server without RFC 7592
// leaves each client registered.
func (r *Report) Failed() bool {
	if r.Stopped != "" {
		return true
	}
	for _, c := range r.Clients {
		if c.Failed {
			return true
		}
	}
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// defaultTimeout bounds each request of the default HTTP client.
const defaultTimeout = 30 * time.Second

// cleanupBudget is the default of Options.CleanupTimeout.
const cleanupBudget = 10 * time.Second

// Run registers as each client of opts at opts.Endpoint, runs the checks,
// and deletes what it registered. When ctx is done (a signal, a deadline)
// it registers no more, deletes what it registered within a time of its
// own (Options.CleanupTimeout), and returns the report so far, with
// Stopped set and the clients it could not delete among the Leftovers.
// The error is for options that cannot work (an endpoint that is not an absolute http or https URL, an unknown
// name); what the server does is in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("clientmatrix: the endpoint %q is not an http or https URL without user or fragment, such as https://auth.example.com/register", opts.Endpoint)
	}
	clients := opts.Clients
	if clients == nil {
		clients = Corpus()
	}
	sel, err := newSelection(clients, opts.Only, opts.Skip)
	if err != nil {
		return nil, err
	}
	hc := http.Client{Timeout: defaultTimeout}
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The deletes run on a context of their own, which ends budget after
	// ctx does.
	budget := opts.CleanupTimeout
	if budget <= 0 {
		budget = cleanupBudget
	}
	cleanup, cancelCleanup := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelCleanup(nil)
	stopBudget := context.AfterFunc(ctx, func() {
		time.AfterFunc(budget, func() { cancelCleanup(fmt.Errorf("the %v to delete after the stop ran out", budget)) })
	})
	defer stopBudget()
	p := &prober{hc: &hc, endpoint: u, iat: opts.InitialAccessToken, cleanup: cleanup}
	report := &Report{Endpoint: u.String()}
	defer func() {
		report.Leftovers = append(report.Leftovers, p.unanswered...)
		if ctx.Err() != nil {
			report.Stopped = fmt.Sprintf("the run stopped before the end (%v): the clients and checks after it did not run", context.Cause(ctx))
		}
	}()
	var probe map[string]any // the first client accepted, for the checks
	var probeFrom string
	for _, c := range clients {
		if !sel.want(c.Name, c.Client) {
			continue
		}
		if ctx.Err() != nil {
			return report, nil
		}
		res, accepted := p.runClient(ctx, c, opts.CIMD, report)
		report.Clients = append(report.Clients, res)
		if accepted && probe == nil && c.Origin == "" {
			probe, probeFrom = c.Request, c.Name
		}
	}
	if probe == nil {
		probe = genericProbe()
	}
	if ctx.Err() != nil {
		return report, nil
	}
	report.Checks = p.runChecks(ctx, probe, probeFrom, sel, report)
	return report, nil
}

// genericProbe is the checks' registration when no client was accepted.
func genericProbe() map[string]any {
	return map[string]any{"client_name": "dcr-doctor probe", "redirect_uris": []any{"https://client.example.org/callback"},
		"grant_types": []any{"authorization_code"}, "response_types": []any{"code"}, "token_endpoint_auth_method": "none"}
}

// selection is Only and Skip.
type selection struct{ only, skip []string }

func newSelection(clients []Client, only, skip []string) (selection, error) {
	known := slices.Clone(checkNames)
	for _, c := range clients {
		known = append(known, c.Name, c.Client)
	}
	for _, n := range append(slices.Clone(only), skip...) {
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, n) }) {
			return selection{}, fmt.Errorf("clientmatrix: %q names no client and no check; clients: %s; checks: %s", n, clientNames(clients), strings.Join(checkNames, ", "))
		}
	}
	return selection{only, skip}, nil
}

func clientNames(clients []Client) string {
	var names []string
	for _, c := range clients {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// want reports whether an entry known by any of names runs.
func (s selection) want(names ...string) bool {
	match := func(list []string) bool {
		return slices.ContainsFunc(list, func(n string) bool {
			return slices.ContainsFunc(names, func(k string) bool { return strings.EqualFold(k, n) })
		})
	}
	if match(s.skip) {
		return false
	}
	return len(s.only) == 0 || match(s.only)
}

// runClient registers as c, compares, manages and deletes. accepted
// reports a registration that passed.
func (p *prober) runClient(ctx context.Context, c Client, cimd *CIMD, report *Report) (ClientResult, bool) {
	res := ClientResult{Name: c.Name, Client: c.Client, Version: c.Version}
	if c.CIMDOnly {
		res.cimdOnly(cimd)
		return res, false
	}
	var header map[string]string
	if c.Origin != "" {
		header = map[string]string{"Origin": c.Origin}
		if problem, err := p.preflight(ctx, c.Origin); err != nil || problem != "" {
			res.Outcome, res.Failed = Unreachable, true
			if err != nil {
				problem = err.Error()
			}
			res.Problems = append(res.Problems, problem)
			return res, false
		}
	}
	a, err := p.register(ctx, c.Name, c.Request, header)
	if err != nil {
		res.Outcome, res.Failed = Unreachable, true
		res.Problems = append(res.Problems, err.Error())
		return res, false
	}
	if a.status/100 != 2 {
		res.refused(a)
		return res, false
	}
	reg := registrationOf(a)
	if c.Origin != "" {
		if got := a.header.Get("Access-Control-Allow-Origin"); got != "*" && got != c.Origin {
			res.Problems = append(res.Problems, fmt.Sprintf("the registration's answer allows origin %q, not %s: the browser hides it", got, c.Origin))
		}
	}
	if a.object == nil {
		res.Outcome, res.Failed, res.Status = Refused, true, a.status
		res.ErrorDescription = fmt.Sprintf("%d with a body that is not a JSON object", a.status)
		return res, false
	}
	res.Changes = compare(c.Request, a.object)
	res.Outcome = Accepted
	if len(res.Changes) > 0 {
		res.Outcome = Changed
	}
	res.Missing = missing(c, a.object)
	if reg.clientID == "" {
		res.Missing = append(res.Missing, "a client_id")
		// A client may exist all the same: delete it, or list it.
		if left := p.remove(ctx, reg); left != nil {
			report.Leftovers = append(report.Leftovers, *left)
			res.Management = append(res.Management, "not deleted: "+left.Reason)
		} else {
			res.Management = append(res.Management, "deleted")
		}
	} else {
		res.Management, res.Problems = p.manage(ctx, c, reg, res.Problems, report)
	}
	res.Failed = len(res.Missing) > 0 || len(res.Problems) > 0
	return res, !res.Failed
}

// cimdOnly is the result of a client that registers by Client ID Metadata
// Document only, on a server whose support of them is cimd (nil: not
// known).
func (res *ClientResult) cimdOnly(cimd *CIMD) {
	res.Outcome = NeedsCIMD
	switch {
	case cimd == nil:
		res.Note = "registers by Client ID Metadata Document only, not at this endpoint; the server's CIMD support was not checked (run dcr-doctor with the AUTHLETE_* variables to check the service's)"
	case !cimd.Supported:
		res.Failed = true
		res.Missing = append(res.Missing, "Client ID Metadata Document support")
		res.Note = "the server does not accept clients by metadata document: " + strings.Join(cimd.Findings, "; ")
	default:
		res.Note = "the server accepts clients by metadata document"
		if len(cimd.Findings) > 0 {
			res.Note += "; but: " + strings.Join(cimd.Findings, "; ")
		}
	}
}

// refused is the result of a registration answered a, not 2xx.
func (res *ClientResult) refused(a *answer) {
	res.Outcome, res.Failed, res.Status = Refused, true, a.status
	res.Error, res.ErrorDescription = a.str("error"), a.str("error_description")
	if res.Error == "" && a.object == nil {
		res.ErrorDescription = a.errorText()
	}
	if a.status == http.StatusUnauthorized {
		res.Note = iatHint
	}
	if a.status == http.StatusTooManyRequests {
		res.Note = "rate limited: the server's limit, not the client's metadata; run again later, or fewer clients with -only"
	}
}

// preflight sends the CORS preflight of a browser at origin about to post
// JSON, and returns what is wrong with its answer.
func (p *prober) preflight(ctx context.Context, origin string) (string, error) {
	a, err := p.do(ctx, request{method: http.MethodOptions, url: p.endpoint.String(), header: map[string]string{
		"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
	if err != nil {
		return "", err
	}
	got := a.header.Get("Access-Control-Allow-Origin")
	if a.status/100 != 2 || (got != "*" && got != origin) {
		return fmt.Sprintf("CORS preflight from %s: %d, Access-Control-Allow-Origin %q: a browser does not send the registration", origin, a.status, got), nil
	}
	return "", nil
}

// manage reads, updates and deletes the registration reg of c, and
// returns a line on each, and the problems.
func (p *prober) manage(ctx context.Context, c Client, reg registration, problems []string, report *Report) ([]string, []string) {
	var lines []string
	switch {
	case !reg.managed():
		if c.Needs.Management {
			problems = append(problems, "registration_client_uri and registration_access_token (RFC 7592), which it needs")
		}
		lines = append(lines, "RFC 7592 not offered")
	case !p.sameOrigin(reg.uri):
		// Not a failure of the client unless it uses RFC 7592; the
		// leftover says where it is.
		if c.Needs.Management {
			problems = append(problems, "registration_client_uri on the endpoint's origin (RFC 7592), which it needs")
		}
	default:
		read, err := p.do(ctx, request{method: http.MethodGet, url: reg.uri, token: reg.token})
		switch {
		case err != nil:
			problems = append(problems, "read: "+err.Error())
		case read.status != http.StatusOK:
			problems = append(problems, fmt.Sprintf("read: %d %s", read.status, read.errorText()))
		default:
			lines = append(lines, "read 200")
		}
		body := updateBody(c.Request, reg)
		upd, err := p.do(ctx, request{method: http.MethodPut, url: reg.uri, token: reg.token, body: body})
		switch {
		case err != nil:
			problems = append(problems, "update: "+err.Error())
		case upd.status != http.StatusOK:
			problems = append(problems, fmt.Sprintf("update with the registered metadata: %d %s", upd.status, upd.errorText()))
		default:
			lines = append(lines, "update 200")
			// RFC 7592 §2.2: the answer may carry a new token.
			if t := upd.str("registration_access_token"); t != "" {
				reg.token = t
			}
		}
	}
	if left := p.remove(ctx, reg); left != nil {
		report.Leftovers = append(report.Leftovers, *left)
		lines = append(lines, "not deleted: "+left.Reason)
	} else {
		lines = append(lines, "deleted")
	}
	return lines, problems
}
