// Package authletetest is an emulator of Authlete's Dynamic Client
// Registration API for tests and local development: a real HTTP server
// that speaks Authlete's wire format (API v3 and v2), keeps clients in
// memory, validates metadata as RFC 7591 and OpenID Connect DCR require,
// and injects faults on demand.
//
// In a test, NewServer starts one on 127.0.0.1 and closes it with the
// test. As a command: go run ./cmd/authlete-emulator.
//
// Beyond DCR it answers the calls that manage clients and read the
// service: client/get/list, client/get, client/delete,
// client/lock_flag/update, auth/token/create, auth/token/get/list and
// service/get (see Calls). CreateToken gives a client a token through
// auth/token/create, for a test of a client in use.
//
// What it does not reproduce of Authlete: software statements are
// ignored, not verified; metadata beyond RFC 7591 and a few OpenID Connect
// members (the language-tagged client_name, logo_uri, client_uri,
// policy_uri and tos_uri among them, kept as Authlete keeps them) is
// dropped rather than stored; the result codes and messages of
// error answers are the emulator's own; service settings other than those
// of Options are fixed.
package authletetest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Defaults used where an Options field is empty.
const (
	DefaultServiceID          = "21653835348762"
	DefaultAccessToken        = "emulator-service-access-token"
	DefaultAPISecret          = "emulator-api-secret"
	DefaultManagementEndpoint = "https://as.example.com/register"
	DefaultMaxClients         = 10000
	DefaultMaxTokens          = 100000
	DefaultMaxTokenBytes      = 16 << 20
	// MaxMetadataBytes bounds the client metadata of a registration or an
	// update: a longer document gets BAD_REQUEST.
	MaxMetadataBytes = 64 << 10
)

// DefaultAuthMethods are the token endpoint authentication methods the
// emulated service supports when Options.AuthMethods is nil.
var DefaultAuthMethods = []string{"none", "client_secret_basic", "client_secret_post", "client_secret_jwt",
	"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}

// Options describe the emulated Authlete service. The zero value works.
type Options struct {
	// ServiceID is the numeric service ID (API v3) and API key (API v2).
	// Empty means DefaultServiceID.
	ServiceID string
	// AccessToken is the service access token of API v3. Empty means
	// DefaultAccessToken.
	AccessToken string
	// APISecret is the service API secret of API v2. Empty means
	// DefaultAPISecret.
	APISecret string
	// ManagementEndpoint is the service's registrationManagementEndpoint:
	// registration_client_uri is it + "/" + client ID. Empty means
	// DefaultManagementEndpoint.
	ManagementEndpoint string
	// BadRequestOnClientConfig turns the service's
	// unauthorizedOnClientConfigSupported setting off: a bad registration
	// access token or an unknown client then gets BAD_REQUEST instead of
	// UNAUTHORIZED.
	BadRequestOnClientConfig bool
	// NoDynamicRegistration turns the service's
	// dynamicRegistrationSupported setting off: registrations get
	// BAD_REQUEST.
	NoDynamicRegistration bool
	// FixedLoopbackPort turns the service's loopbackRedirectionUriVariable
	// setting off, as /service/get reports it (the emulator has no
	// authorization endpoint that it would change).
	FixedLoopbackPort bool
	// MaxClients is how many clients the service holds at most: a
	// registration beyond it gets action INTERNAL_SERVER_ERROR with a
	// server_error body. Zero means DefaultMaxClients; negative, no limit.
	MaxClients int
	// MaxTokens is how many access tokens the service holds at most, all
	// clients together: auth/token/create beyond it gets action
	// INTERNAL_SERVER_ERROR. Zero means DefaultMaxTokens; negative, no
	// limit.
	MaxTokens int
	// MaxTokenBytes bounds the memory the service's access tokens take,
	// all clients together, counted as the bytes of their subjects and
	// scopes: auth/token/create beyond it gets action
	// INTERNAL_SERVER_ERROR, so that a few tokens with huge scopes cannot
	// exhaust a standalone emulator. Zero means DefaultMaxTokenBytes;
	// negative, no limit.
	MaxTokenBytes int
	// AuthMethods are the supported token_endpoint_auth_method values. Nil
	// means DefaultAuthMethods.
	AuthMethods []string
	// DCRScopeUsedAsRequestable turns the service's
	// dcrScopeUsedAsRequestable on: a registered scope becomes the client's
	// requestable scopes (client.extension.requestableScopes, with
	// requestableScopesEnabled). Off, the scope is kept and returned, but
	// does not bind at the authorization endpoint.
	DCRScopeUsedAsRequestable bool
	// DuplicateSoftwareIDBlocked turns dcrDuplicateSoftwareIdBlocked on: a
	// registration whose software_id was registered before gets
	// BAD_REQUEST.
	DuplicateSoftwareIDBlocked bool
	// CIMD are the service's Client ID Metadata Document settings, as
	// service/get reports them. The emulator fetches no metadata document.
	CIMD CIMDSettings
	// Now tells the time. Nil means time.Now.
	Now func() time.Time
}

// CIMDSettings are the Client ID Metadata Document settings of a service.
type CIMDSettings struct {
	Supported             bool     // clientIdMetadataDocumentSupported
	HTTPAliasProhibited   bool     // httpAliasProhibited
	HTTPPermitted         bool     // cimdHttpPermitted
	QueryPermitted        bool     // cimdQueryPermitted
	AllowlistEnabled      bool     // cimdAllowlistEnabled
	Allowlist             []string // cimdAllowlist
	MetadataPolicyEnabled bool     // cimdMetadataPolicyEnabled
	MetadataPolicy        string   // cimdMetadataPolicy, JSON text
}

// Emulator is an http.Handler that answers Authlete's DCR calls. It is
// safe for concurrent use.
type Emulator struct {
	opts     Options
	v3Prefix string
	v2Auth   string
	v3Auth   string
	mu       sync.Mutex
	clients  map[string]*client
	tokens   map[string][]*token // by client ID
	faults   []*Fault
	calls    map[string]int
	numbered int // the number of the last client created
	ntokens  int // tokens held, all clients together
	// tokenBytes is what the tokens held take, as token.size counts it.
	tokenBytes int
	// softwareIDs are the software_id values registered, for
	// DuplicateSoftwareIDBlocked.
	softwareIDs map[string]bool
}

// client is a registered client. Its registration access token is kept
// only as a hash.
type client struct {
	id        string
	secret    string
	tokenHash [sha256.Size]byte
	issuedAt  time.Time
	modified  time.Time
	meta      *metadata
	number    int
	locked    bool
	source    string // clientSource: DYNAMIC_REGISTRATION unless added otherwise
}

// New returns an Emulator for the service that opts describe.
func New(opts Options) *Emulator {
	if opts.ServiceID == "" {
		opts.ServiceID = DefaultServiceID
	}
	if opts.AccessToken == "" {
		opts.AccessToken = DefaultAccessToken
	}
	if opts.APISecret == "" {
		opts.APISecret = DefaultAPISecret
	}
	if opts.ManagementEndpoint == "" {
		opts.ManagementEndpoint = DefaultManagementEndpoint
	}
	opts.ManagementEndpoint = strings.TrimRight(opts.ManagementEndpoint, "/")
	if opts.MaxClients == 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	if opts.MaxTokenBytes == 0 {
		opts.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if opts.AuthMethods == nil {
		opts.AuthMethods = DefaultAuthMethods
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(opts.ServiceID, opts.APISecret)
	return &Emulator{
		opts:     opts,
		v3Prefix: authleteapi.Prefix(true, opts.ServiceID),
		v2Auth:   r.Header.Get("Authorization"),
		v3Auth:   "Bearer " + opts.AccessToken,
		clients:  make(map[string]*client),
		tokens:   make(map[string][]*token),
		calls:    make(map[string]int),

		softwareIDs: make(map[string]bool),
	}
}

// Options returns the settings of the emulated service, defaults filled in.
func (e *Emulator) Options() Options { return e.opts }

// Calls returns how many calls of op the emulator received, or of all of
// them for "". The DCR calls are "register", "get", "update" and
// "delete"; the others are named by their path without the API prefix and
// parameters: "client/get/list", "client/get", "client/delete",
// "client/lock_flag/update", "auth/token/create", "auth/token/get/list",
// "service/get".
func (e *Emulator) Calls(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if op != "" {
		return e.calls[op]
	}
	n := 0
	for _, c := range e.calls {
		n += c
	}
	return n
}

// AddStaticClient adds a client as an administrator would through
// Authlete's console: its clientSource is STATIC_REGISTRATION and
// dynamicallyRegistered is false. It returns the client ID, or "" if
// metadata is not acceptable.
func (e *Emulator) AddStaticClient(metadata string) string {
	return e.AddClient(metadata, "STATIC_REGISTRATION")
}

// AddClient adds a client whose clientSource is source:
// METADATA_DOCUMENT (a CIMD client), AUTOMATIC_REGISTRATION or
// EXPLICIT_REGISTRATION (OpenID Federation), STATIC_REGISTRATION or
// DYNAMIC_REGISTRATION. Like Authlete, the emulator reports every client
// but a static one as dynamicallyRegistered. It returns the client ID, or
// "" if metadata is not acceptable.
func (e *Emulator) AddClient(metadata, source string) string {
	resp := e.register(&authlete.Request{JSON: metadata})
	var info struct {
		ClientID string `json:"client_id"`
	}
	if resp.Action != authlete.ActionCreated || json.Unmarshal([]byte(resp.ResponseContent), &info) != nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clients[info.ClientID].source = source
	return info.ClientID
}

// Clients returns how many clients are registered.
func (e *Emulator) Clients() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.clients)
}

// ServeHTTP answers one Authlete API call.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, auth := r.URL.Path, e.v2Auth
	rest, _ := strings.CutPrefix(path, authleteapi.Root+"/")
	if id, after, ok := strings.Cut(rest, "/"); ok && authleteapi.IsDigits(id) {
		// API v3: /api/{serviceId}/...
		if id != e.opts.ServiceID {
			refuse(w, http.StatusNotFound, "A001103", "The service does not exist.", "")
			return
		}
		path, auth = "/"+after, e.v3Auth
	} else {
		path = strings.TrimPrefix(path, authleteapi.Root)
	}
	op, clientID, ok := authleteapi.Match(path)
	serve := routes[op]
	if !ok || serve == nil {
		refuse(w, http.StatusNotFound, "A001103", "Unknown API.", "")
		return
	}
	if method := op.Spec().Method; r.Method != method {
		w.Header().Set("Allow", method)
		refuse(w, http.StatusMethodNotAllowed, "A001104", "The method is not allowed.", "")
		return
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		refuse(w, http.StatusUnauthorized, "A001202", "Authorization header is missing.", "")
		return
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(auth)) != 1 {
		refuse(w, http.StatusUnauthorized, "A001203", "The service credentials are invalid.", "")
		return
	}
	call := op.Spec().Call
	e.mu.Lock()
	e.calls[call]++
	e.mu.Unlock()
	if e.injectFault(w, r, call) {
		return
	}
	serve(e, w, r, clientID)
}

// maxRequestBytes bounds the API request bodies the emulator reads.
const maxRequestBytes = 1 << 20

// refuse answers the way Authlete refuses an API call itself: an HTTP
// error status and {"resultCode","resultMessage"}.
func refuse(w http.ResponseWriter, status int, code, message, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, status, map[string]string{"resultCode": code, "resultMessage": "[" + code + "] " + message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
