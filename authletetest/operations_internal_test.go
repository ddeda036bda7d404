package authletetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
)

func TestTokensStoredOnlyAsHashes(t *testing.T) {
	e := New(Options{})
	resp := e.register(&authlete.Request{JSON: `{}`})
	require.Equal(t, authlete.ActionCreated, resp.Action)
	var got struct {
		Token string `json:"registration_access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.ResponseContent), &got))
	require.NotEmpty(t, got.Token)
	for _, c := range e.clients {
		assert.NotContains(t, fmt.Sprintf("%+v %+v", *c, *c.meta), got.Token)
	}
	assert.NotContains(t, string(resp.Client), got.Token)
}
