// Package dcr serves the OAuth 2.0 Dynamic Client Registration endpoints,
// RFC 7591 registration and RFC 7592 client configuration, with Authlete
// as the backend that owns the clients.
//
// A Handler takes the registration access token and the client ID from the
// request, calls Authlete's DCR API through a Backend (usually an
// *authlete.Client), and turns Authlete's action into the status, headers
// and body that Authlete's API reference and the RFCs prescribe. Requests
// that cannot be right (no token, a body that is not a JSON object, a
// method the endpoint does not serve) are answered without calling
// Authlete.
package dcr

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// Backend is Authlete's DCR API. *authlete.Client implements it; so can a
// decorator or a test double.
type Backend interface {
	Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error)
	Get(ctx context.Context, req *authlete.Request) (*authlete.Response, error)
	Update(ctx context.Context, req *authlete.Request) (*authlete.Response, error)
	Delete(ctx context.Context, req *authlete.Request) (*authlete.Response, error)
}

// ErrVerifierFailed, wrapped in an error of Options.InitialAccessToken,
// says that the token could not be checked (its store failed), not that
// it was refused: the request goes to Options.ErrorHandler, and the client
// may try again.
var ErrVerifierFailed = errors.New("dcr: the initial access token could not be checked")

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 64 << 10

// Options are the Handler's optional settings. The zero value works.
type Options struct {
	// MaxBodyBytes bounds a request body; a longer one is answered with
	// 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ClientID returns the client ID of a client configuration request and
	// "" for a registration request. Nil means r.PathValue("client_id"),
	// which http.ServeMux (Go 1.22+) and chi (v5.0.12+) fill.
	ClientID func(r *http.Request) string
	// Token returns the bearer token of r: "" when r has none, an error
	// when r's credentials are malformed (answered with 400, except on
	// open registration, where credentials that are not a bearer token
	// belong to the application's own middleware and are ignored). Nil
	// means BearerToken.
	Token func(r *http.Request) (string, error)
	// ErrorHandler writes the response when the Backend fails or answers
	// with something the Handler cannot relay. Nil means
	// DefaultErrorHandler. The error is never meant for the OAuth client.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger records failures of the Backend and of policies (at Error),
	// clients that went away and refused initial access tokens (at Info).
	// Nil means slog.Default(). Tokens are never logged.
	Logger *slog.Logger

	// InitialAccessToken, when set, makes registration require an initial
	// access token (RFC 7591 §3): it is called with the bearer token of
	// each registration request, and an error refuses the request with
	// 401 and WWW-Authenticate: Bearer (RFC 6750), without calling
	// Authlete; an error that wraps ErrVerifierFailed (a store that cannot
	// be reached) is a failure instead, for ErrorHandler. It is called
	// with the request's context without its cancellation, bounded by
	// BackendTimeout, so that a use it takes is not lost to the client
	// going away. The token is never sent to Authlete, which ignores it
	// on registration. Client configuration requests are not affected.
	// Nil means registration is open. See StaticTokens.
	InitialAccessToken func(ctx context.Context, token string) error
	// RefundInitialAccessToken, if set, is called with the token of a
	// registration that InitialAccessToken accepted but that certainly
	// created no client, so that a token that counts its uses gets this
	// one back; see package iat. That is a registration refused before
	// Authlete was called (a body that is not client metadata, a policy's
	// refusal or failure), refused by Authlete (action BAD_REQUEST) or
	// whose call Authlete refused at the HTTP level (a 4xx status, such as
	// 429). Whenever Authlete may have created a client (it answered
	// CREATED or INTERNAL_SERVER_ERROR, did not answer in time, could not
	// be reached, answered something unreadable), the use stays spent:
	// a token never registers more clients than it allows. Nil means none.
	RefundInitialAccessToken func(ctx context.Context, token string)
	// BackendTimeout bounds each call to the Backend. A call does not end
	// when the client goes away: it runs to its end, detached from the
	// request's cancellation, so that what Authlete did (a client
	// created, updated or deleted) is what Audit, the logs and the
	// initial access token's uses say. Zero means
	// authlete.DefaultTotalTimeout, the bound of an *authlete.Client's
	// whole call: set it to your Config.TotalTimeout if you changed that.
	// Negative means no bound but the Backend's own. Bound the Handler
	// with it, not with a deadline of your middleware (chi's
	// middleware.Timeout), which the call outlives, nor with
	// http.TimeoutHandler, which would answer 503 in the Handler's place
	// and throw away the answer of a client Authlete has created (the
	// Handler then logs that the answer was not written).
	BackendTimeout time.Duration
	// Policies check, and may change, the client metadata of registration
	// and update requests, in order, before Authlete is called; see Policy
	// and package policy. Nil means the body goes to Authlete as it came.
	Policies []Policy
	// Audit receives one Event for each request, after the response is
	// written, with the request's context (where a middleware may keep its
	// own record of the request, to log both in one line). Events never
	// hold tokens or secrets. Nil means none; see LogEvents.
	Audit func(ctx context.Context, e Event)
	// ClientAddr returns the address of the client that sent r, for
	// Event.ClientAddr: behind a proxy, the one the application derives
	// from X-Forwarded-For. Nil means the host of r.RemoteAddr.
	ClientAddr func(r *http.Request) string
}

// Handler serves the registration endpoint and the client configuration
// endpoint; see Mount. It is safe for concurrent use.
type Handler struct {
	backend  Backend
	maxBody  int64
	clientID func(*http.Request) string
	token    func(*http.Request) (string, error)
	onError  func(http.ResponseWriter, *http.Request, error)
	logger   *slog.Logger

	initialToken func(context.Context, string) error
	refundToken  func(context.Context, string)
	timeout      time.Duration
	policies     []Policy
	audit        func(context.Context, Event)
	clientAddr   func(*http.Request) string

	mountChecked atomic.Bool // see checkMount
}

// New returns a Handler that calls backend. It panics if backend is nil,
// or a nil pointer (an *authlete.Client of a failed authlete.New): at
// once, rather than on each request.
func New(backend Backend, opts Options) *Handler {
	if backend == nil || holdsNil(backend) {
		panic("dcr: nil Backend")
	}
	h := &Handler{
		backend:  backend,
		maxBody:  opts.MaxBodyBytes,
		clientID: opts.ClientID,
		token:    opts.Token,
		onError:  opts.ErrorHandler,
		logger:   opts.Logger,

		initialToken: opts.InitialAccessToken,
		refundToken:  opts.RefundInitialAccessToken,
		timeout:      opts.BackendTimeout,
		policies:     append([]Policy(nil), opts.Policies...),
		audit:        opts.Audit,
		clientAddr:   opts.ClientAddr,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.timeout == 0 {
		h.timeout = authlete.DefaultTotalTimeout
	}
	if h.clientID == nil {
		h.clientID = pathClientID
	}
	if h.token == nil {
		h.token = BearerToken
	}
	if h.onError == nil {
		h.onError = DefaultErrorHandler
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.clientAddr == nil {
		h.clientAddr = remoteHost
	}
	return h
}

// holdsNil reports whether v, an interface value that is not nil,
// holds a nil pointer, func or map (http.HandlerFunc(nil)).
func holdsNil(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map:
		return rv.IsNil()
	}
	return false
}

// pathClientID is the client ID of r's path: the path value client_id of
// Mount's patterns or, under a subtree pattern, the one segment after it:
// chi's r.Mount("/register", h) ("/register/*") and ServeMux's
// "/register/" (with or without http.StripPrefix). The subtree's own root,
// "/register/", is no endpoint, as under Mount: its ID is "/", which serve
// answers with 404, so that it is not a second registration endpoint
// beside "/register", outside the middleware the application put there.
func pathClientID(r *http.Request) string {
	if id := r.PathValue("client_id"); id != "" {
		return id
	}
	pattern := r.Pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " ") // "POST /register/"
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // "example.com/register/"
	}
	switch {
	case strings.HasSuffix(pattern, "/*"): // chi
		if id := r.PathValue("*"); id != "" || pattern == "/*" {
			return id
		}
		return "/" // "/register/", on the application's own r.Handle("/register/*", h)
	case pattern != "/" && strings.HasSuffix(pattern, "/"): // ServeMux subtree
		if rest := belowPattern(r.URL.Path, pattern); rest != "" {
			return rest
		}
		return "/" // "/register/" itself: the pattern ends with its slash
	case strings.HasSuffix(pattern, "/{$}") && r.URL.Path != strings.TrimSuffix(pattern, "{$}"):
		// ServeMux matches "/%2F" (the path "//") to "/{$}": no endpoint.
		return "/"
	case pattern != "" && !strings.HasSuffix(pattern, "/") && !strings.HasSuffix(pattern, "{$}") && strings.HasSuffix(r.URL.Path, "/"):
		// chi routes "/register/" to the route of "/register" (its
		// r.Mount, r.Route, r.Post).
		return "/"
	}
	return ""
}

// belowPattern is what path has below a ServeMux subtree pattern that
// matched it, such as "/register/": the path's rest after the pattern, or,
// when an http.StripPrefix (one of several, nested) took part of the
// pattern off, after the longest end of the pattern that the path starts
// with ("/1" after StripPrefix("/register"), "1" after
// StripPrefix("/register/")).
func belowPattern(path, pattern string) string {
	for i := 0; i <= len(pattern); i++ {
		if rest, ok := strings.CutPrefix(path, pattern[i:]); ok {
			return rest
		}
	}
	return path // cannot happen: every path starts with pattern[len(pattern):]
}

// remoteHost is the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP serves a registration request (POST) when the request has no
// client ID, and a client configuration request (GET, PUT, DELETE) when
// it has one.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	var sw *statusWriter
	if h.audit != nil {
		start = time.Now()
		sw = &statusWriter{ResponseWriter: w}
		w = sw
	}
	o := h.serve(r)
	refund := o.spent && !o.mayHaveClient()
	h.answer(w, r, &o)
	if refund {
		// The token had one use less from the moment it was accepted; it
		// gets it back since no client can exist.
		ctx, cancel := h.detach(r)
		h.refundToken(ctx, o.token)
		cancel()
	}
	if h.audit != nil {
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		e := o.event(status)
		e.Duration, e.ClientAddr = time.Since(start), h.clientAddr(r)
		h.audit(r.Context(), e)
	}
}

// serve decides what becomes of r, calling the Backend if it must; it
// writes nothing.
func (h *Handler) serve(r *http.Request) outcome {
	rt := routeOf(r)
	if rt == notFoundRoute {
		return outcome{refusal: errNotFound}
	}
	id := h.clientID(r)
	switch {
	case (rt == registerRoute && id != "") || (rt == manageRoute && id == ""):
		// Mount routed r to the other endpoint, whose guard it did not meet.
		return outcome{refusal: errNotFound}
	case strings.Contains(id, "/"):
		// Below a client configuration endpoint, as mounted on a subtree:
		// nothing is served there.
		return outcome{refusal: errNotFound}
	case id != "":
		return h.configure(r, id)
	}
	return h.register(r)
}

func (h *Handler) register(r *http.Request) outcome {
	if r.Method != http.MethodPost {
		return outcome{refusal: errMethod, allow: "POST"}
	}
	o := outcome{op: OpRegister}
	token, err := h.token(r)
	if err != nil {
		if h.initialToken != nil {
			o.refusal = errAuthorization
			return o
		}
		// Registration is open: credentials that are not a bearer token
		// (Basic ones of the application's own auth middleware, say) are
		// not the handler's business, and no token is used.
		token = ""
	}
	o.token = token
	if h.initialToken != nil {
		if o.refusal, o.err = h.checkInitialToken(r, token); o.refusal != nil || o.err != nil {
			return o
		}
		o.spent = h.refundToken != nil // from here the token has one use less
	}
	body, e := h.readBody(r)
	if e != nil {
		o.refusal = e
		return o
	}
	metadata, refusal, err := h.applyPolicies(r, body)
	if o.refusal, o.err = refusal, err; refusal != nil || err != nil {
		return o
	}
	// The initial access token, checked above, is not sent: Authlete
	// ignores it on registration, and a secret goes only where needed.
	h.call(r, &o, h.backend.Register, &authlete.Request{JSON: metadata})
	if o.err == nil {
		h.checkMount(r, o.resp)
	}
	return o
}

// checkInitialToken checks the initial access token of a registration:
// the refusal to answer with, or the failure of its verifier.
func (h *Handler) checkInitialToken(r *http.Request, token string) (*Error, error) {
	if token == "" {
		return errNoInitialToken, nil
	}
	// Detached, as the Backend's calls are: a verifier that counts uses
	// and is cut off by the client going away may have taken the use
	// without saying so, and the use would be lost.
	ctx, cancel := h.detach(r)
	err := h.initialToken(ctx, token)
	cancel()
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, ErrVerifierFailed):
		return nil, err
	}
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, "dcr: initial access token refused",
		slog.String("error", redact(err.Error(), token)))
	return errBadInitialToken, nil
}

// detach returns r's context without its cancellation (the client going
// away) but with its values, bounded by Options.BackendTimeout.
func (h *Handler) detach(r *http.Request) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(r.Context())
	if h.timeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.timeout)
}

// call makes the Backend call of o, which runs to its end even if the
// client goes away (see Options.BackendTimeout), and records its answer
// in o.
func (h *Handler) call(r *http.Request, o *outcome, call func(context.Context, *authlete.Request) (*authlete.Response, error), req *authlete.Request) {
	ctx, cancel := h.detach(r)
	defer cancel()
	o.called = true // Authlete may act from here, even if the call fails
	o.resp, o.err = call(ctx, req)
	if r.Context().Err() != nil {
		var action authlete.Action
		if o.resp != nil {
			action = o.resp.Action
		}
		// context.Canceled: the client went away; DeadlineExceeded: a
		// deadline of the application's middleware.
		h.logger.LogAttrs(r.Context(), slog.LevelInfo, "dcr: the request's context ended before Authlete answered",
			slog.String("op", string(o.op)), slog.String("action", string(action)),
			slog.String("cause", context.Cause(r.Context()).Error()))
	}
}

func (h *Handler) configure(r *http.Request, id string) outcome {
	var call func(context.Context, *authlete.Request) (*authlete.Response, error)
	var o outcome
	switch r.Method {
	case http.MethodGet:
		call, o.op = h.backend.Get, OpGet
	case http.MethodPut:
		call, o.op = h.backend.Update, OpUpdate
	case http.MethodDelete:
		call, o.op = h.backend.Delete, OpDelete
	default:
		return outcome{refusal: errMethod, allow: "GET, PUT, DELETE"}
	}
	if !validClientID(id) {
		o.refusal = errClientID
		return o
	}
	token, err := h.token(r)
	if err != nil {
		token = ""
	}
	// A client may put its token in the path (a client ID and a token
	// confused), with or without a header: the event holds neither it nor
	// whatever looks like a token.
	o.clientID = redact(id, token)
	switch {
	case err != nil:
		o.refusal = errAuthorization
		return o
	case token == "":
		o.refusal = errNoToken
		return o
	}
	o.token = token
	req := &authlete.Request{ClientID: id, Token: token}
	if r.Method == http.MethodPut {
		body, e := h.readBody(r)
		if e != nil {
			o.refusal = e
			return o
		}
		if req.JSON, o.refusal, o.err = h.applyPolicies(r, body); o.refusal != nil || o.err != nil {
			return o
		}
	}
	h.call(r, &o, call, req)
	return o
}

// maxClientIDLen bounds the client IDs the Handler passes on. Authlete's
// are numbers; aliases and URL-shaped IDs are longer, but not this long.
const maxClientIDLen = 1024

// validClientID reports whether id is 1 to maxClientIDLen visible ASCII
// characters.
func validClientID(id string) bool {
	if id == "" || len(id) > maxClientIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return false
		}
	}
	return true
}

// answer writes the response of o: the Handler's own refusal, the one
// that Authlete's action prescribes, or, on a failure, the error
// handler's, which it also logs.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, o *outcome) {
	if o.refusal != nil {
		if o.allow != "" {
			w.Header()["Allow"] = []string{o.allow}
		}
		WriteError(w, o.refusal)
		return
	}
	if o.err == nil {
		var lost *unwritten
		switch o.err = writeAction(w, o.op, o.resp); {
		case o.err == nil:
			if o.resp.Action == authlete.ActionInternalServerError {
				h.logger.LogAttrs(r.Context(), slog.LevelWarn, "dcr: authlete answered INTERNAL_SERVER_ERROR",
					slog.String("op", string(o.op)), slog.String("result_code", o.resp.ResultCode),
					slog.String("result_message", redact(o.resp.ResultMessage, o.token)))
			}
			return
		case errors.As(o.err, &lost):
			// Nothing more can reach the client; what Authlete did stands.
			e := Event{ClientID: o.clientID}
			e.describe(o.resp)
			h.logger.LogAttrs(r.Context(), slog.LevelWarn, "dcr: the answer could not be written: the client does not know what Authlete did",
				slog.String("op", string(o.op)), slog.String("action", string(o.resp.Action)),
				slog.String("client_id", e.ClientID), slog.String("error", lost.err.Error()))
			return
		}
	}
	level := slog.LevelError
	if errors.Is(o.err, context.Canceled) && r.Context().Err() != nil {
		level = slog.LevelInfo // the client went away
	}
	h.logger.LogAttrs(r.Context(), level, "dcr: request failed",
		slog.String("op", string(o.op)), slog.String("client_id", o.clientID), slog.String("error", redact(o.err.Error(), o.token)))
	h.onError(w, r, o.err)
}
