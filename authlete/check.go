package authlete

import (
	"context"
	"errors"
	"net/http"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// Check proves that Authlete accepts the Client's credentials, without a
// side effect: it reads the configuration of a client that cannot exist,
// once. Authlete checks the service's credentials first: it refuses them
// with HTTP 401, 403 or 404 (an *Error whose Refused reports true), and
// answers with an action when it accepts them. Any other failure (Authlete
// unreachable, too slow, failing) is an *Error too, with Refused false.
func (c *Client) Check(ctx context.Context) error {
	body := []byte(`{"clientId":"0","token":"dcr-credentials-check"}`)
	resp, err := c.attempt(ctx, authleteapi.Check, body)
	if err != nil {
		return err
	}
	if resp.Action == "" {
		return &Error{Op: authleteapi.Check.Name(), StatusCode: http.StatusOK, ResultCode: resp.ResultCode, Err: malformed(errors.New("no action"))}
	}
	return nil
}
