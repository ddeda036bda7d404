package authleteapi

// IsDigits reports whether s is a non-empty string of ASCII digits, as
// an API v3 service ID is.
func IsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
