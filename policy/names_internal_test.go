package policy

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// TestDefaultIgnorable: defaultIgnorable, derived from Go's unicode tables,
// is Unicode's Default_Ignorable_Code_Point, code point by code point.
func TestDefaultIgnorable(t *testing.T) {
	require.Equal(t, "15.0.0", unicode.Version, "testdata/default-ignorable.txt is of Unicode 15.0.0")
	data, err := os.ReadFile("testdata/default-ignorable.txt")
	require.NoError(t, err)
	want := map[rune]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		field, _, _ := strings.Cut(line, ";")
		if field = strings.TrimSpace(field); field == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lo, hi, _ := strings.Cut(field, "..")
		if hi == "" {
			hi = lo
		}
		l, err := strconv.ParseUint(lo, 16, 32)
		require.NoError(t, err, line)
		h, err := strconv.ParseUint(hi, 16, 32)
		require.NoError(t, err, line)
		for r := rune(l); r <= rune(h); r++ {
			want[r] = true
		}
	}
	require.Len(t, want, 4174)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if defaultIgnorable(r) != want[r] {
			t.Errorf("defaultIgnorable(%U) = %v", r, !want[r])
		}
	}
}
