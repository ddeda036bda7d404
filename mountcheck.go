package dcr

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/dcr-go/dcr/authlete"
)

// checkMount warns when the registration_client_uri that Authlete issued
// for a client created through r is not below the path r was sent to: the
// client's configuration requests would go where the Handler is not
// mounted, and get the router's 404. Only the ends of the paths are
// compared, so that a proxy that adds a prefix (/oauth/register in front
// of /register) is no mismatch. The first client created decides, once per
// Handler: later registrations cost nothing.
func (h *Handler) checkMount(r *http.Request, resp *authlete.Response) {
	if resp == nil || resp.Action != authlete.ActionCreated || h.mountChecked.Load() || !h.mountChecked.CompareAndSwap(false, true) {
		return
	}
	var c struct {
		ClientID string `json:"client_id"`
		URI      string `json:"registration_client_uri"`
	}
	if json.Unmarshal([]byte(resp.ResponseContent), &c) != nil || c.ClientID == "" || c.URI == "" {
		return
	}
	issued, err := url.Parse(c.URI)
	if err != nil {
		return
	}
	base := strings.TrimRight(sentPath(r), "/")
	if strings.HasSuffix(issued.Path, base+"/"+c.ClientID) {
		return
	}
	want := url.URL{Scheme: issued.Scheme, Host: issued.Host, Path: base}
	h.logger.LogAttrs(r.Context(), slog.LevelWarn,
		"dcr: Authlete issued a registration_client_uri that is not below this registration endpoint, so client configuration requests (RFC 7592) will not reach the handler; "+
			"set the Authlete service's Registration Management Endpoint (registrationManagementEndpoint) to the registration endpoint's URL, or mount the handler at the URI's base",
		slog.String("registration_endpoint", requestURL(r, base)),
		slog.String("registration_client_uri", c.URI),
		slog.String("registration_management_endpoint", want.String()))
}

// sentPath is the path of r as the client sent it, before any
// http.StripPrefix.
func sentPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

// requestURL is the URL of path on the server r was sent to.
func requestURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: path}).String()
}
