package tokenshape

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"/register/12345678901234": "/register/12345678901234", // Authlete's client IDs
		"/register/_sejszbSUJxzabRtc1Z7o8xd-kmf0ZIhv_ouF4TPVJ0": "/register/REDACTED",
		"a 0123456789abcdef0123 b":                              "a REDACTED b",
		"a 0123456789abcdef012 b":                               "a 0123456789abcdef012 b", // 19: below MinLen
		"tls_client_certificate_bound_access_tokens":            "tls_client_certificate_bound_access_tokens",
		"/.well-known/oauth-authorization-server":               "/.well-known/oauth-authorization-server",
		"AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB":             "REDACTED.REDACTED",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
