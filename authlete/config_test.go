package authlete_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/authlete"
)

// TestServiceIDDigits: every digit is a digit, at the edges of the range.
func TestServiceIDDigits(t *testing.T) {
	for _, id := range []string{"0", "9", "0123456789"} {
		_, err := authlete.New(authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: id, ServiceAccessToken: accessToken})
		assert.NoError(t, err, id)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  authlete.Config
		want string
	}{
		{"v3 without base URL", authlete.Config{ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}, "AUTHLETE_BASE_URL"},
		{"v3 without service ID", authlete.Config{BaseURL: "https://us.authlete.com", ServiceAccessToken: accessToken}, "AUTHLETE_SERVICE_APIKEY"},
		{"v3 non-numeric service ID", authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "abc", ServiceAccessToken: accessToken}, "numeric"},
		{"v3 service ID with '/'", authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "12/34", ServiceAccessToken: accessToken}, "numeric"},
		{"v3 service ID with ':'", authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: "12:", ServiceAccessToken: accessToken}, "numeric"},
		{"v3 without token", authlete.Config{BaseURL: "https://us.authlete.com", ServiceAPIKey: serviceID}, "AUTHLETE_SERVICE_ACCESSTOKEN"},
		{"v2 without secret", authlete.Config{APIVersion: "V2", ServiceAPIKey: apiKey}, "AUTHLETE_SERVICE_APISECRET"},
		{"unknown version", authlete.Config{APIVersion: "V4", BaseURL: "https://us.authlete.com"}, "AUTHLETE_API_VERSION"},
		{"relative base URL", authlete.Config{BaseURL: "us.authlete.com", ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}, "AUTHLETE_BASE_URL"},
		{"ftp base URL", authlete.Config{BaseURL: "ftp://us.authlete.com", ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}, "AUTHLETE_BASE_URL"},
		{"base URL with query", authlete.Config{BaseURL: "https://us.authlete.com?x=1", ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}, "AUTHLETE_BASE_URL"},
		{"unparsable base URL", authlete.Config{BaseURL: "https://us.authlete.com:port", ServiceAPIKey: serviceID, ServiceAccessToken: accessToken}, "AUTHLETE_BASE_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := authlete.New(tc.cfg)
			assert.Nil(t, c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), accessToken)
		})
	}
}

func TestV2DefaultsBaseURL(t *testing.T) {
	var got string
	c, err := authlete.New(authlete.Config{APIVersion: "V2", ServiceAPIKey: apiKey, ServiceAPISecret: apiSecret,
		HTTPClient: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			got = r.URL.String()
			return nil, errors.New("not sent")
		})}})
	require.NoError(t, err)
	_, err = c.Get(context.Background(), &authlete.Request{ClientID: "1", Token: "t"})
	require.Error(t, err)
	assert.Equal(t, "https://api.authlete.com/api/client/registration/get", got)
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("AUTHLETE_BASE_URL", "https://jp.authlete.com")
	t.Setenv("AUTHLETE_API_VERSION", "V3")
	t.Setenv("AUTHLETE_SERVICE_APIKEY", serviceID)
	t.Setenv("AUTHLETE_SERVICE_APISECRET", "secret")
	t.Setenv("AUTHLETE_SERVICE_ACCESSTOKEN", accessToken)
	assert.Equal(t, authlete.Config{BaseURL: "https://jp.authlete.com", APIVersion: "V3", ServiceAPIKey: serviceID,
		ServiceAPISecret: "secret", ServiceAccessToken: accessToken}, authlete.ConfigFromEnv())
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := v3Config("https://us.authlete.com")
	cfg.ServiceAPISecret = apiSecret
	var logged strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("config", "authlete", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), logged.String()} {
		assert.Contains(t, s, serviceID)
		assert.NotContains(t, s, accessToken)
		assert.NotContains(t, s, apiSecret)
	}

	// An empty secret is shown empty, not as an escaped pair of quotes.
	cfg.ServiceAPISecret = ""
	logged.Reset()
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "authlete", cfg)
	assert.Contains(t, logged.String(), `authlete.service_api_secret="" authlete.service_access_token=REDACTED`)
	assert.Contains(t, logged.String(), `authlete.api_version=V3 `, "the version in effect, not the empty setting")
	logged.Reset()
	cfg.APIVersion = " v2"
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "authlete", cfg)
	assert.Contains(t, logged.String(), `authlete.api_version=V2 `)
	cfg.APIVersion = ""
	assert.Equal(t, `authlete.Config{BaseURL:"https://us.authlete.com" APIVersion:"" ServiceAPIKey:"21653835348762" ServiceAPISecret:"" ServiceAccessToken:"REDACTED"}`, cfg.String())
}

// TestConfigHidesBaseURLUser: a base URL with user information (a
// credential put there by mistake) is refused, and neither the refusal
// nor the logged or printed Config repeats it.
func TestConfigHidesBaseURLUser(t *testing.T) {
	for _, base := range []string{"https://user:" + apiSecret + "@us.authlete.com", "https://" + apiSecret + "@us.authlete.com", "https://u:" + apiSecret + "@[::1/x"} {
		cfg := v3Config(base)
		_, err := authlete.New(cfg)
		require.Error(t, err, base)
		var logged strings.Builder
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "authlete", cfg)
		for _, s := range []string{err.Error(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), logged.String()} {
			assert.NotContains(t, s, apiSecret, base)
		}
		assert.Contains(t, err.Error(), "is not an http or https URL without user", base)
	}
}
