package dcr

import (
	"strings"

	"github.com/dcr-go/dcr/internal/tokenshape"
)

// minRedactedLen is the length from which a token is redacted from log
// text. The Handler never puts a token into a message itself; redaction
// catches a Backend or a hook that does. A shorter token is no secret, and
// replacing it everywhere would garble the line (a token "t" would turn
// "authlete get" into "auREDACTEDhleREDACTEDe geREDACTED").
const minRedactedLen = 8

// redact removes token from s when it is long enough to be a secret, and
// whatever else in s looks like a token (tokenshape.Redact): a token that
// the Handler was not given (another client's, Authlete's own service
// access token) when Authlete's resultMessage or a Backend's error repeats
// it, or a client puts it in the path without an Authorization header.
func redact(s, token string) string {
	if len(token) >= minRedactedLen {
		s = strings.ReplaceAll(s, token, "REDACTED")
	}
	return tokenshape.Redact(s)
}
