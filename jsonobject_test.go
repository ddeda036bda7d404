package dcr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzIsJSONObject checks isJSONObject against encoding/json. Its seed
// corpus is in testdata/fuzz/FuzzIsJSONObject.
func FuzzIsJSONObject(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		want := len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(data)
		if got := isJSONObject(data); got != want {
			t.Fatalf("isJSONObject(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

func TestIsJSONObjectDepth(t *testing.T) {
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		doc := []byte(`{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
		if got, want := isJSONObject(doc), json.Valid(doc); got != want {
			t.Errorf("depth %d: isJSONObject = %v, json.Valid = %v", depth, got, want)
		}
	}
}

func BenchmarkIsJSONObject(b *testing.B) {
	body := []byte(`{"client_name":"My Dynamic Client","redirect_uris":["http://127.0.0.1:33418/callback"]}`)
	b.Run("isJSONObject", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			isJSONObject(body)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Valid(body)
		}
	})
}
