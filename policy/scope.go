package policy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/dcr-go/dcr"
)

// scopes returns the scope member of m as a list: nil when it is absent,
// null or empty, a rejection when it is not a string.
func scopes(m dcr.Metadata) ([]string, error) {
	v, present := m["scope"]
	if !present || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, dcr.Reject(dcr.InvalidClientMetadata, `The value of "scope" must be a string of space-separated scopes.`)
	}
	return strings.Fields(s), nil
}

// DefaultScope registers clients that ask for no scope (no scope member,
// null or an empty string) with scope, e.g. "mcp". MCP clients often
// register without one and later get invalid_scope at the authorization
// endpoint. RFC 7591 §2 lets the server replace requested metadata; the
// client sees what was registered in the response.
func DefaultScope(scope string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		asked, err := scopes(m)
		if err != nil {
			return err
		}
		if len(asked) == 0 {
			m["scope"] = scope
		}
		return nil
	}
}

// AllowedScopes registers only the requested scopes that are in allowed
// and drops the others: a client asking "mcp admin" is registered with
// "mcp" and sees so in the response. When none is left, the scope member
// is removed; put DefaultScope after AllowedScopes to register the
// default then, or RequireScope to refuse such a registration. Alone, it
// would let "admin" register with no scope, which Authlete may read as
// any scope the service supports.
func AllowedScopes(allowed ...string) dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		asked, err := scopes(m)
		if err != nil || asked == nil {
			return err
		}
		kept := make([]string, 0, len(asked))
		for _, s := range asked {
			if slices.Contains(allowed, s) && !slices.Contains(kept, s) {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			delete(m, "scope")
			return nil
		}
		m["scope"] = strings.Join(kept, " ")
		return nil
	}
}

// RequireScope refuses a registration or an update that, after the
// policies before it, asks for no scope (no scope member, null or an empty
// string) with invalid_client_metadata: Authlete may read a client without
// scope as one that may request any scope the service supports. Put it
// after AllowedScopes when there is no DefaultScope.
func RequireScope() dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		asked, err := scopes(m)
		if err != nil {
			return err
		}
		if len(asked) == 0 {
			return dcr.Reject(dcr.InvalidClientMetadata, "The registration must ask for a scope that this server allows.")
		}
		return nil
	}
}
