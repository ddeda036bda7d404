// Package authleteenv describes, for the -h of a command, the variables
// that authlete.ConfigFromEnv reads.
package authleteenv

// Usage describes the variables authlete.ConfigFromEnv reads, one a
// line, indented for a command's -h.
const Usage = `  AUTHLETE_BASE_URL             Authlete's base URL, e.g. https://us.authlete.com (API v2: default https://api.authlete.com)
  AUTHLETE_API_VERSION          V3 (default) or V2
  AUTHLETE_SERVICE_APIKEY       the service ID (API v3) or the service API key (API v2)
  AUTHLETE_SERVICE_ACCESSTOKEN  the service access token (API v3)
  AUTHLETE_SERVICE_APISECRET    the service API secret (API v2)
`
