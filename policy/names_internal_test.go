package policy

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
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

// TestASCIIKinds: the table read uses for ASCII code points is kindOf's
// answer for each of them.
func TestASCIIKinds(t *testing.T) {
	for r := range rune(0x80) {
		k, s := kindOf(r, nil)
		require.Equal(t, k, asciiKinds()[r].kind, "%U", r)
		require.Equal(t, string(s), string(asciiKinds()[r].skeleton), "%U", r)
	}
}

// readReference is read as it was before its ASCII table: kindOf for
// every code point.
func readReference(name string) words {
	w := words{starts: []bool{true}}
	var buf []rune
	type letter struct {
		k  kind
		at int
	}
	var prev, prev2 letter
	for _, r := range name {
		k, s := kindOf(r, buf)
		buf = s
		switch k {
		case mark:
			continue
		case separator:
			prev, prev2 = letter{}, letter{}
			w.starts[len(w.starts)-1] = true
			continue
		}
		if prev.k == separator || k == alone || prev.k == alone || prev.k != k && !(prev.k == upper && k == lower) {
			w.starts[len(w.starts)-1] = true
		}
		if prev2.k == upper && prev.k == upper && k == lower {
			w.starts[prev.at] = true
		}
		prev, prev2 = letter{k, len(w.skeleton)}, prev
		w.skeleton = append(w.skeleton, s...)
		w.starts = append(w.starts, make([]bool, len(s))...)
	}
	w.starts[len(w.starts)-1] = true
	return w
}

// TestReadIsReadReference: read, with its ASCII table and its buffers,
// reduces every name as kindOf code point by code point does: names of
// ASCII (the table's "m" and "0" add other code points than themselves)
// mixed with code points of every kind, so that the table's skeletons
// and kindOf's answers meet; one memo for all the names, so that what it
// remembers is read again (U+FDFA and U+FDFB, whose decompositions are
// long, it always keeps).
func TestReadIsReadReference(t *testing.T) {
	others := []rune("ＣθɢǀСⓒ™ʼ\u0301\u200bł𝐂🅒ꝑﬀ\u1160¢\ufdfa\ufdfb")
	memo := newKindMemo()
	rapid.Check(t, func(t *rapid.T) {
		rs := rapid.SliceOfN(rapid.OneOf(rapid.RuneFrom(nil, unicode.ASCII_Hex_Digit, unicode.Latin, unicode.Punct),
			rapid.Int32Range(0, 0x7f), rapid.SampledFrom(others), rapid.Rune()), 0, 40).Draw(t, "name")
		name := string(rs)
		got, want := memo.read(name), readReference(name)
		if string(got.skeleton) != string(want.skeleton) || !slices.Equal(got.starts, want.starts) {
			t.Fatalf("read(%q) = %q %v, want %q %v", name, string(got.skeleton), got.starts, string(want.skeleton), want.starts)
		}
	})
}

// TestKindMemoIsBounded: the memo keeps every code point of a long
// decomposition, and at most maxKindMemo of the others, whatever the
// names read.
func TestKindMemoIsBounded(t *testing.T) {
	memo := newKindMemo()
	var name []rune
	for r := rune(0x4e00); r < 0x4e00+2*maxKindMemo; r++ { // CJK ideographs: no decomposition
		name = append(name, r)
	}
	memo.read(string(name))
	memo.read("\ufdfa\ufdfb")
	assert.Len(t, memo.m, maxKindMemo+2)
	assert.Contains(t, memo.m, rune(0xfdfa))
	assert.Contains(t, memo.m, rune(0xfdfb))
}
