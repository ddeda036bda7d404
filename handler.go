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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
	// be reached) is a failure instead, for ErrorHandler. The token is never sent to Authlete, which ignores it on
	// registration. Client configuration requests are not affected. Nil
	// means registration is open. See StaticTokens.
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
	// Negative means no bound but the Backend's own.
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

// New returns a Handler that calls backend. It panics if backend is nil.
func New(backend Backend, opts Options) *Handler {
	if backend == nil {
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

// pathClientID is the client ID of r's path: the path value client_id of
// Mount's patterns or, under a subtree pattern, the one segment after it:
// chi's r.Mount("/register", h) ("/register/*") and ServeMux's
// "/register/" (with or without http.StripPrefix).
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
		return r.PathValue("*")
	case strings.HasSuffix(pattern, "/"): // ServeMux subtree
		path := r.URL.Path
		if !strings.HasPrefix(path, pattern) {
			// http.StripPrefix took the prefix off: the path as sent.
			u, err := url.ParseRequestURI(r.RequestURI)
			if err != nil {
				return ""
			}
			path = u.Path
		}
		rest, _ := strings.CutPrefix(path, pattern)
		return rest
	}
	return ""
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
	var ev Event
	if h.audit == nil {
		h.serve(w, r, &ev)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	ev.ClientAddr = h.clientAddr(r)
	h.serve(sw, r, &ev)
	ev.Status, ev.Duration = sw.status, time.Since(start)
	if ev.Status == 0 {
		ev.Status = http.StatusOK
	}
	h.audit(r.Context(), ev)
}

// serve answers r, recording what happens in ev.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ev *Event) {
	rt := routeOf(r)
	if rt == notFoundRoute {
		reject(w, ev, errNotFound, "")
		return
	}
	id := h.clientID(r)
	if (rt == registerRoute && id != "") || (rt == manageRoute && id == "") {
		// Mount routed r to the other endpoint, whose guard it did not meet.
		reject(w, ev, errNotFound, "")
		return
	}
	if id != "" {
		if strings.Contains(id, "/") {
			// Below a client configuration endpoint, as mounted on a
			// subtree: nothing is served there.
			reject(w, ev, errNotFound, "")
			return
		}
		h.configure(w, r, id, ev)
		return
	}
	h.register(w, r, ev)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request, ev *Event) {
	if r.Method != http.MethodPost {
		reject(w, ev, errMethod, "POST")
		return
	}
	ev.Op = "register"
	mayHaveClient := false // whether Authlete may have created a client
	token, err := h.token(r)
	if err != nil {
		if h.initialToken != nil {
			reject(w, ev, errAuthorization, "")
			return
		}
		// Registration is open: credentials that are not a bearer token
		// (Basic ones of the application's own auth middleware, say) are
		// not the handler's business, and no token is used.
		token = ""
	}
	if h.initialToken != nil {
		if token == "" {
			reject(w, ev, errNoInitialToken, "")
			return
		}
		if err := h.initialToken(r.Context(), token); err != nil {
			if errors.Is(err, ErrVerifierFailed) {
				h.fail(w, r, ev, token, err)
				return
			}
			h.logger.LogAttrs(r.Context(), slog.LevelInfo, "dcr: initial access token refused",
				slog.String("error", redact(err.Error(), token)))
			reject(w, ev, errBadInitialToken, "")
			return
		}
		if h.refundToken != nil {
			// From here the token has one use less. It gets it back only
			// when no client can exist.
			defer func() {
				if !mayHaveClient {
					ctx, cancel := h.detach(r)
					defer cancel()
					h.refundToken(ctx, token)
				}
			}()
		}
	}
	body, ok := h.readBody(w, r, ev)
	if !ok {
		return
	}
	// The initial access token, checked above, is not sent: Authlete
	// ignores it on registration, and a secret goes only where needed.
	req := &authlete.Request{JSON: body}
	if !h.applyPolicies(w, r, ev, req, token) {
		return
	}
	mayHaveClient = true // Authlete may create one from here, even if the call fails
	resp, err := h.call(r, ev, h.backend.Register, req)
	mayHaveClient = !refused(resp, err)
	if err == nil && resp != nil {
		ev.Action = resp.Action // also when the answer cannot be relayed: Authlete created the client
		h.checkMount(r, resp)
	}
	h.respond(w, r, ev, token, resp, err)
}

// refused reports whether a registration whose call returned resp and err
// certainly created no client: Authlete answered BAD_REQUEST, or refused
// the call itself with a 4xx status (bad credentials, rate limiting).
func refused(resp *authlete.Response, err error) bool {
	if err != nil {
		var ae *authlete.Error
		return errors.As(err, &ae) && ae.Err == nil && ae.StatusCode >= 400 && ae.StatusCode < 500
	}
	return resp != nil && resp.Action == authlete.ActionBadRequest
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

// call makes a Backend call that runs to its end even if the client goes
// away: see Options.BackendTimeout.
func (h *Handler) call(r *http.Request, ev *Event, call func(context.Context, *authlete.Request) (*authlete.Response, error), req *authlete.Request) (*authlete.Response, error) {
	ctx, cancel := h.detach(r)
	defer cancel()
	resp, err := call(ctx, req)
	if r.Context().Err() != nil {
		var action authlete.Action
		if resp != nil {
			action = resp.Action
		}
		h.logger.LogAttrs(r.Context(), slog.LevelInfo, "dcr: the client went away before Authlete answered",
			slog.String("op", ev.Op), slog.String("action", string(action)))
	}
	return resp, err
}

func (h *Handler) configure(w http.ResponseWriter, r *http.Request, id string, ev *Event) {
	var call func(context.Context, *authlete.Request) (*authlete.Response, error)
	switch r.Method {
	case http.MethodGet:
		call, ev.Op = h.backend.Get, "get"
	case http.MethodPut:
		call, ev.Op = h.backend.Update, "update"
	case http.MethodDelete:
		call, ev.Op = h.backend.Delete, "delete"
	default:
		reject(w, ev, errMethod, "GET, PUT, DELETE")
		return
	}
	if !validClientID(id) {
		reject(w, ev, errClientID, "")
		return
	}
	ev.ClientID = id
	token, err := h.token(r)
	if err != nil {
		reject(w, ev, errAuthorization, "")
		return
	}
	if token == "" {
		reject(w, ev, errNoToken, "")
		return
	}
	if len(token) >= minRedactedLen {
		// A client that puts its token in the path as well (a client ID
		// and a token confused) must not leave it in the event.
		ev.ClientID = strings.ReplaceAll(id, token, "REDACTED")
	}
	req := &authlete.Request{ClientID: id, Token: token}
	if r.Method == http.MethodPut {
		body, ok := h.readBody(w, r, ev)
		if !ok {
			return
		}
		req.JSON = body
		if !h.applyPolicies(w, r, ev, req, token) {
			return
		}
	}
	resp, err := h.call(r, ev, call, req)
	h.respond(w, r, ev, token, resp, err)
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

// readBody reads a JSON object body, answering the request itself when the
// body is not one.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, ev *Event) (string, bool) {
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		reject(w, ev, errContentType, "")
		return "", false
	}
	if r.ContentLength > h.maxBody {
		reject(w, ev, errTooLarge, "")
		return "", false
	}
	data, err := readAll(r.Body, r.ContentLength, h.maxBody)
	if err == errBodyTooLarge {
		reject(w, ev, errTooLarge, "")
		return "", false
	}
	if err != nil {
		reject(w, ev, errReadBody, "")
		return "", false
	}
	// The shape first: it stops at the first level or byte too many,
	// where the JSON validation would read it all.
	if e := checkShape(data); e != nil {
		reject(w, ev, *e, "")
		return "", false
	}
	if !isJSONObject(data) {
		reject(w, ev, errNotObject, "")
		return "", false
	}
	return string(data), true
}

var errBodyTooLarge = errors.New("dcr: request body too large")

// readAll reads r to its end, but never more than limit bytes: a longer
// body is errBodyTooLarge, whatever its announced length (already checked
// against limit). The first buffer is sized for the announced length, so
// that a body is read without copies.
func readAll(r io.Reader, length, limit int64) ([]byte, error) {
	size := int64(512)
	if length >= 0 {
		size = length + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// isJSONObject reports whether body is exactly one JSON object (RFC 8259),
// with optional white space around it.
func isJSONObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(body)
}

// The limits of client metadata that checkShape enforces, before any
// policy runs: decoding a body nested thousands of levels deep, or
// splitting a scope of 64 KiB, costs a policy (and Authlete) far more
// than a registration should. Client metadata is a few levels deep (jwks:
// object, keys, key, x5c) and its longest values are software statements
// and certificates of a few kilobytes.
const (
	MaxMetadataDepth       = 32      // nesting of objects and arrays, the body itself counting as 1
	MaxMetadataStringBytes = 8 << 10 // each string, member names included, as sent (escapes counted)
)

// checkShape returns the error for a body nested deeper than
// MaxMetadataDepth or with a string longer than MaxMetadataStringBytes,
// nil for one within the limits. It does not validate the JSON.
func checkShape(body []byte) *localError {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			if depth++; depth > MaxMetadataDepth {
				return &errTooDeep
			}
		case '}', ']':
			depth--
		case '"':
			end := i + 1 + MaxMetadataStringBytes // the closing quote, at the latest
			for i++; i < len(body) && body[i] != '"'; i++ {
				if i >= end {
					return &errTooLong
				}
				if body[i] == '\\' {
					i++
				}
			}
			if i > end { // an escape took the string past the limit
				return &errTooLong
			}
		}
	}
	return nil
}

// isJSONContentType reports whether v names application/json, with or
// without parameters such as charset.
func isJSONContentType(v string) bool {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.EqualFold(strings.TrimSpace(v), "application/json")
}

// respond relays the backend's answer, or hands its failure to the error
// handler. token is the request's bearer token, kept out of the logs.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, ev *Event, token string, resp *authlete.Response, err error) {
	if err == nil {
		err = writeAction(w, resp)
		if err == nil {
			ev.Action, ev.ResultCode = resp.Action, resp.ResultCode
			if h.audit != nil {
				ev.describe(resp)
			}
			if resp.Action == authlete.ActionInternalServerError {
				h.logger.LogAttrs(r.Context(), slog.LevelWarn, "dcr: authlete answered INTERNAL_SERVER_ERROR",
					slog.String("op", ev.Op), slog.String("result_code", resp.ResultCode),
					slog.String("result_message", redact(resp.ResultMessage, token)))
			}
			return
		}
	}
	h.fail(w, r, ev, token, err)
}

// fail logs err, without token, and hands it to the error handler.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, ev *Event, token string, err error) {
	if h.audit != nil {
		ev.Err = safeError(err, token)
	}
	var ae *authlete.Error
	if errors.As(err, &ae) {
		ev.ResultCode = ae.ResultCode
	}
	level := slog.LevelError
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		level = slog.LevelInfo // the client went away
	}
	h.logger.LogAttrs(r.Context(), level, "dcr: request failed",
		slog.String("op", ev.Op), slog.String("client_id", ev.ClientID), slog.String("error", redact(err.Error(), token)))
	h.onError(w, r, err)
}

// minRedactedLen is the length from which a token is redacted from log
// text. The Handler never puts a token into a message itself; redaction
// catches a Backend or a hook that does. A shorter token is no secret, and
// replacing it everywhere would garble the line (a token "t" would turn
// "authlete get" into "auREDACTEDhleREDACTEDe geREDACTED").
const minRedactedLen = 8

// redact removes token from s when it is long enough to be a secret, and
// whatever else in s looks like a token: see redactTokenShaped.
func redact(s, token string) string {
	if len(token) >= minRedactedLen {
		s = strings.ReplaceAll(s, token, "REDACTED")
	}
	return redactTokenShaped(s)
}

// minTokenShapedLen is the length from which a run of base64url
// characters is taken for a token in log text. Authlete's tokens, and
// those of package iat, are 43 characters; a token of 16 random bytes is
// 22.
const minTokenShapedLen = 20

// redactTokenShaped replaces each run of at least minTokenShapedLen
// base64url characters (letters, digits, '-' and '_') in s with
// "REDACTED", unless the run is lower-case letters, '_' and '-':
// that is a name, such as the metadata member
// "tls_client_certificate_bound_access_tokens", not a secret (a random
// token of 20 characters is one by chance 1 in 10^7). It is how a token
// that the Handler was not given (another client's, Authlete's own
// service access token) is kept out of the log when Authlete's
// resultMessage or a Backend's error repeats it. It also takes out
// long numbers, UUIDs and hex digests: log text loses little by it.
func redactTokenShaped(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); {
		if !isBase64URL(s[i]) {
			i++
			continue
		}
		j, lower, other := i, false, false
		for ; j < len(s) && isBase64URL(s[j]); j++ {
			switch c := s[j]; {
			case 'a' <= c && c <= 'z':
				lower = true
			case c != '_' && c != '-':
				other = true
			}
		}
		if j-i >= minTokenShapedLen && (other || !lower) {
			b.WriteString(s[last:i])
			b.WriteString("REDACTED")
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
