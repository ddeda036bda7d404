package clientmatrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxAnswerBytes bounds the body of an answer the doctor reads.
const maxAnswerBytes = 1 << 20

// answer is one HTTP answer of the server under test.
type answer struct {
	method, url string
	status      int
	header      http.Header
	body        []byte
	// object is the body as a JSON object, nil when it is not one.
	object map[string]any
}

func (a *answer) String() string {
	return fmt.Sprintf("%s %s: %d", a.method, a.path(), a.status)
}

// path is the answer's URL without the origin, for reports.
func (a *answer) path() string {
	if u, err := url.Parse(a.url); err == nil {
		return u.EscapedPath()
	}
	return a.url
}

// isJSON reports whether the answer is a JSON object labelled as JSON.
func (a *answer) isJSON() bool {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(a.header.Get("Content-Type"), ";")[0]))
	return ct == "application/json" && a.object != nil
}

// errorText is "error: error_description" of an error answer, or the
// status text.
func (a *answer) errorText() string {
	code, _ := a.object["error"].(string)
	desc, _ := a.object["error_description"].(string)
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	case a.status/100 == 3 && a.header.Get("Location") != "":
		return "a redirect to " + a.header.Get("Location") + ", not followed"
	case a.object == nil && len(a.body) > 0:
		return http.StatusText(a.status) + " (not a JSON error)"
	}
	return http.StatusText(a.status)
}

func (a *answer) str(name string) string {
	s, _ := a.object[name].(string)
	return s
}

// prober sends the doctor's requests, to the endpoint and to
// registration_client_uri values on its origin only, and keeps every
// answer for the checks that apply to all of them.
type prober struct {
	hc       *http.Client
	endpoint *url.URL
	iat      string
	answers  []*answer
	// registrations are the answers to well-formed registrations, with
	// what was sent.
	registrations []sentAnswer
	// down is the first request that got no answer: the later ones are
	// not sent, so that a server that hangs costs one timeout, not one per
	// request.
	down error
	// cleanup is the context of the deletes: not cancelled with the run's,
	// but cleanupBudget after it (see Run).
	cleanup context.Context
	// unanswered are the registrations sent that got no answer: each may
	// have created a client.
	unanswered []Leftover
}

type sentAnswer struct {
	sent map[string]any
	*answer
}

// sameOrigin reports whether raw is an absolute URL on the endpoint's
// origin (scheme, host and port).
func (p *prober) sameOrigin(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	return origin(u) == origin(p.endpoint)
}

func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + host + ":" + port
}

// request is one request of the doctor.
type request struct {
	method, url string
	token       string // a bearer token, or ""
	contentType string // "" means application/json when there is a body
	body        []byte
	header      map[string]string
	who         string // the client registering, for a registration
}

// do sends r, which must be on the endpoint's origin, and reads the
// answer. Redirects are not followed.
func (p *prober) do(ctx context.Context, r request) (*answer, error) {
	if !p.sameOrigin(r.url) {
		return nil, fmt.Errorf("%s is not on the origin of %s: not followed", r.url, p.endpoint)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if p.down != nil {
		return nil, fmt.Errorf("not sent: %w", p.down)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not sent: the run stopped: %w", context.Cause(ctx))
	}
	// noAnswer records a request that got no answer. A registration may
	// have created a client all the same. A run that stopped says nothing
	// of the server: the deletes still go.
	noAnswer := func(err error) error {
		if r.method == http.MethodPost && r.url == p.endpoint.String() {
			who := r.who
			if who == "" {
				who = "a check's probe"
			}
			p.unanswered = append(p.unanswered, Leftover{Possible: true,
				Reason: fmt.Sprintf("registration of %s got no answer: a client may exist", who)})
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s got no answer: the run stopped: %w", r.method, req.URL.EscapedPath(), context.Cause(ctx))
		}
		p.down = err
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, noAnswer(fmt.Errorf("%s %s got no answer: %w", r.method, req.URL.EscapedPath(), err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		// A body that stalls is a server that hangs too.
		return nil, noAnswer(fmt.Errorf("%s %s: reading the answer: %w", r.method, req.URL.EscapedPath(), err))
	}
	a := &answer{method: r.method, url: r.url, status: resp.StatusCode, header: resp.Header, body: data}
	if json.Unmarshal(data, &a.object) != nil {
		a.object = nil
	}
	if r.method != http.MethodOptions {
		p.answers = append(p.answers, a)
	}
	return a, nil
}

// register posts metadata to the endpoint, with the initial access token.
// who names the client registering, for a registration that gets no
// answer; "" is a check's probe.
func (p *prober) register(ctx context.Context, who string, metadata map[string]any, header map[string]string) (*answer, error) {
	body, err := json.Marshal(metadata)
	if err != nil {
		return nil, err
	}
	a, err := p.do(ctx, request{method: http.MethodPost, url: p.endpoint.String(), token: p.iat, body: body, header: header, who: who})
	if err == nil {
		p.registrations = append(p.registrations, sentAnswer{metadata, a})
	}
	return a, err
}

// registration is what a 2xx registration answer gave.
type registration struct {
	clientID, secret, uri, token string
}

func registrationOf(a *answer) registration {
	return registration{a.str("client_id"), a.str("client_secret"), a.str("registration_client_uri"), a.str("registration_access_token")}
}

// managed reports whether RFC 7592 management was offered.
func (r registration) managed() bool { return r.uri != "" && r.token != "" }

// Leftover is a client the doctor registered and could not delete, or,
// Possible, a registration that got no answer and may have created one.
type Leftover struct {
	ClientID              string `json:"client_id"`
	RegistrationClientURI string `json:"registration_client_uri,omitempty"`
	Reason                string `json:"reason"`
	// Possible: the registration got no answer (a timeout, a connection
	// reset, the run stopped); the server may or may not have created a
	// client, and only it knows its client_id.
	Possible bool `json:"possible,omitempty"`
}

// remove deletes a registration the doctor made, and returns a Leftover
// when it could not. It deletes on p.cleanup, not ctx: a run that stopped
// still deletes what it registered.
func (p *prober) remove(_ context.Context, r registration) *Leftover {
	ctx := p.cleanup
	left := &Leftover{ClientID: r.clientID, RegistrationClientURI: r.uri}
	switch {
	case !r.managed():
		left.Reason = "no registration_client_uri and registration_access_token (RFC 7592): delete it in the authorization server"
		return left
	case !p.sameOrigin(r.uri):
		left.Reason = "registration_client_uri is not on the origin of the endpoint: not followed"
		return left
	}
	a, err := p.do(ctx, request{method: http.MethodDelete, url: r.uri, token: r.token})
	if err != nil {
		left.Reason = err.Error()
		return left
	}
	if a.status/100 != 2 {
		left.Reason = fmt.Sprintf("DELETE answered %d %s", a.status, a.errorText())
		return left
	}
	return nil
}
