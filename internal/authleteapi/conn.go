package authleteapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The API versions, as authlete.Config spells them in upper case.
const (
	V3 = "V3"
	V2 = "V2"
)

// DefaultV2BaseURL is the base URL of API v2 when none is given.
const DefaultV2BaseURL = "https://api.authlete.com"

// Version is the API version that v names: v in upper case, V3 when it
// is empty.
func Version(v string) string {
	if v = strings.ToUpper(strings.TrimSpace(v)); v != "" {
		return v
	}
	return V3
}

// Root is the path below the base URL where the API starts; API v3 adds
// the service ID: /api/{serviceId}.
const Root = "/api"

// ErrResponseTooLarge: the answer was longer than Conn.MaxResponse.
var ErrResponseTooLarge = errors.New("response too large")

// Service says which Authlete service to call and how: the fields of
// authlete.Config, its defaults filled in. A Timeout of zero or less
// means none.
type Service struct {
	BaseURL, Version, APIKey, APISecret, AccessToken string

	HTTP        *http.Client
	Timeout     time.Duration
	MaxResponse int64
}

// Conn sends calls to one Authlete service.
type Conn struct {
	HTTP          *http.Client
	Prefix        string // e.g. https://us.authlete.com/api/123
	Authorization string // the Authorization header value
	// Secrets are what of the credentials an answer must not repeat: the
	// access token or API secret, and the header's credentials.
	Secrets     [][]byte
	Timeout     time.Duration // of each request; zero or less: none
	MaxResponse int64
}

// NewConn checks s and returns a Conn to it. A missing credential, a non-numeric API v3 service ID, an
// unknown API version or a malformed base URL is an error.
func NewConn(s Service) (*Conn, error) {
	base := strings.TrimSpace(s.BaseURL)
	c := &Conn{HTTP: s.HTTP, Timeout: s.Timeout, MaxResponse: s.MaxResponse}
	version := Version(s.Version)
	switch version {
	case V3:
		if base == "" {
			return nil, errors.New("authlete: BaseURL (AUTHLETE_BASE_URL) is required for API v3, e.g. https://us.authlete.com, https://jp.authlete.com, https://eu.authlete.com or https://br.authlete.com")
		}
		if s.APIKey == "" {
			return nil, errors.New("authlete: ServiceAPIKey (AUTHLETE_SERVICE_APIKEY), the service ID, is required for API v3")
		}
		if !IsDigits(s.APIKey) {
			return nil, errors.New("authlete: ServiceAPIKey (AUTHLETE_SERVICE_APIKEY) must be the numeric service ID for API v3")
		}
		if s.AccessToken == "" {
			return nil, errors.New("authlete: ServiceAccessToken (AUTHLETE_SERVICE_ACCESSTOKEN) is required for API v3")
		}
		c.Authorization = "Bearer " + s.AccessToken
	case V2:
		if base == "" {
			base = DefaultV2BaseURL
		}
		if s.APIKey == "" || s.APISecret == "" {
			return nil, errors.New("authlete: ServiceAPIKey (AUTHLETE_SERVICE_APIKEY) and ServiceAPISecret (AUTHLETE_SERVICE_APISECRET) are required for API v2")
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(s.APIKey, s.APISecret)
		c.Authorization = r.Header.Get("Authorization")
	default:
		return nil, fmt.Errorf("authlete: APIVersion (AUTHLETE_API_VERSION) %q is neither V3 nor V2", s.Version)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("authlete: BaseURL (AUTHLETE_BASE_URL) %q is not an http or https URL without user, query or fragment", ShownURL(base))
	}
	c.Prefix = strings.TrimRight(u.String(), "/") + Prefix(version == V3, s.APIKey)
	_, credentials, _ := strings.Cut(c.Authorization, " ")
	for _, secret := range []string{s.AccessToken, s.APISecret, credentials} {
		if secret != "" {
			c.Secrets = append(c.Secrets, []byte(secret))
		}
	}
	return c, nil
}

// Prefix is the path of the API below the base URL: /api/{serviceID} for
// API v3, /api for API v2.
func Prefix(v3 bool, serviceID string) string {
	if v3 {
		return Root + "/" + serviceID
	}
	return Root
}

// Answer is Authlete's answer to one request, the credentials in its
// body replaced by REDACTED.
type Answer struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Result is the resultCode and resultMessage of the answer, "" if its
// body has none.
func (a *Answer) Result() (code, message string) {
	var result struct{ ResultCode, ResultMessage string }
	if json.Unmarshal(a.Body, &result) != nil {
		return "", ""
	}
	return result.ResultCode, result.ResultMessage
}

// Send makes one request of op to Authlete, bounded by the Timeout. An
// error without an answer (a transport failure) has a zero StatusCode;
// an answer that could not be read whole is the Answer so far and an
// error: the reader's, or ErrResponseTooLarge.
func (c *Conn) Send(ctx context.Context, op Op, clientID string, query url.Values, body []byte) (Answer, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, op.Spec().Method, c.Prefix+op.URL(clientID, query), reader)
	if err != nil {
		return Answer{}, err
	}
	if body != nil {
		hreq.Header["Content-Type"] = []string{"application/json"}
	}
	hreq.Header["Accept"] = []string{"application/json"}
	hreq.Header["Authorization"] = []string{c.Authorization}

	hresp, err := c.HTTP.Do(hreq)
	if err != nil {
		return Answer{}, err
	}
	defer hresp.Body.Close()
	a := Answer{StatusCode: hresp.StatusCode, Header: hresp.Header}
	data, err := io.ReadAll(io.LimitReader(hresp.Body, c.MaxResponse+1))
	if err != nil {
		return a, err
	}
	if int64(len(data)) > c.MaxResponse {
		return a, ErrResponseTooLarge
	}
	// An answer that repeats the credentials (Authlete's resultMessage, a
	// gateway's error page) must not carry them into an error or a
	// response, and from there into a log.
	for _, secret := range c.Secrets {
		data = bytes.ReplaceAll(data, secret, []byte("REDACTED"))
	}
	a.Body = data
	return a, nil
}

// ShownURL is raw as an error or a log line may show it: without its user
// information (user:password@), which can hold a credential, and
// "(unparsable)" when it is not a URL, since a URL that does not parse
// may still hold one.
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}
