package policy_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/policy"
)

// The family of policies and requests the properties draw from: members
// that hold one string, one that holds an array, and scope.
var (
	stringMembers = []string{"client_name", "logo_uri", "tos_uri"}
	stringPool    = []string{"Acme App", "Acme", "https://acme.example/a", "Evil", "https://evil.example/x"}
	contactPool   = []string{"a@acme.example", "b@acme.example", "c@acme.example", "evil@evil.example"}
	scopePool     = []string{"mcp", "offline_access", "openid", "admin"}
	tags          = []string{"ja", "en", "fr", "ja-Jpan-JP", "EN", "en-US", "", "x-evil"}
)

// memberSpec is a generated policy for one member, kept to check what
// leaves the policy.
type memberSpec struct {
	name                                  string
	scope, array                          bool
	value                                 any // nil: no value operator; jsonNull: value null
	hasValue                              bool
	oneOf, subsetOf, supersetOf, add, def []string
	hasSubsetOf                           bool
	hasDefault                            bool
	essential                             bool
}

// someOf draws a subset of pool, in the pool's order.
func someOf(t *rapid.T, pool []string, label string) []string {
	var out []string
	for _, v := range pool {
		if rapid.Bool().Draw(t, label+" "+v) {
			out = append(out, v)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// drawSpec draws a policy for member name that ParseMetadataPolicy must
// accept: operands that hold together (§6.1.3.1).
func drawSpec(t *rapid.T, name string) memberSpec {
	sp := memberSpec{name: name, scope: name == "scope", array: name == "contacts"}
	if !sp.scope && !sp.array {
		if rapid.IntRange(0, 3).Draw(t, name+" value?") == 0 {
			sp.hasValue = true
			if rapid.Bool().Draw(t, name+" value null") {
				return sp
			}
			v := rapid.SampledFrom(stringPool).Draw(t, name+" value")
			sp.value = v
			if rapid.Bool().Draw(t, name+" one_of with value") {
				sp.oneOf = union([]string{v}, someOf(t, stringPool, name+" one_of"))
			}
			sp.essential = rapid.Bool().Draw(t, name+" essential")
			return sp
		}
		if rapid.Bool().Draw(t, name+" one_of?") {
			sp.oneOf = union([]string{rapid.SampledFrom(stringPool).Draw(t, name+" one_of first")}, someOf(t, stringPool, name+" one_of"))
		}
		if rapid.Bool().Draw(t, name+" default?") {
			pool := stringPool
			if sp.oneOf != nil {
				pool = sp.oneOf
			}
			sp.hasDefault, sp.def = true, []string{rapid.SampledFrom(pool).Draw(t, name+" default")}
		}
		sp.essential = rapid.Bool().Draw(t, name+" essential")
		return sp
	}
	pool := contactPool
	if sp.scope {
		pool = scopePool
	}
	allowed := pool
	if rapid.Bool().Draw(t, name+" subset_of?") {
		sp.hasSubsetOf, sp.subsetOf = true, someOf(t, pool, name+" subset_of")
		allowed = sp.subsetOf
	}
	if rapid.Bool().Draw(t, name+" superset_of?") {
		sp.supersetOf = someOf(t, allowed, name+" superset_of")
	}
	if rapid.Bool().Draw(t, name+" add?") {
		sp.add = someOf(t, allowed, name+" add")
	}
	if rapid.IntRange(0, 3).Draw(t, name+" value?") == 0 {
		sp.hasValue = true
		if sp.supersetOf == nil && sp.add == nil && rapid.Bool().Draw(t, name+" value null") {
			return sp
		}
		sp.value = union(union(sp.supersetOf, sp.add), someOf(t, allowed, name+" value"))
		if sp.scope && len(sp.value.([]string)) == 0 {
			sp.value = nil // an empty scope is no scope: as null
			return sp
		}
	}
	if rapid.Bool().Draw(t, name+" default?") {
		d := union(sp.supersetOf, someOf(t, allowed, name+" default"))
		if len(d) > 0 {
			sp.hasDefault, sp.def = true, d
		}
	}
	sp.essential = rapid.Bool().Draw(t, name+" essential")
	return sp
}

// operand is a list operand as JSON: scope's as a string or an array.
func (sp memberSpec) operand(t *rapid.T, op string, list []string) any {
	if sp.scope && rapid.Bool().Draw(t, sp.name+" "+op+" as a string") {
		return strings.Join(list, " ")
	}
	return append([]string{}, list...)
}

func (sp memberSpec) json(t *rapid.T) map[string]any {
	ops := map[string]any{}
	if sp.hasValue {
		switch v := sp.value.(type) {
		case nil:
			ops["value"] = nil
		case string:
			ops["value"] = v
		case []string:
			ops["value"] = sp.operand(t, "value", v)
		}
	}
	if sp.oneOf != nil {
		ops["one_of"] = sp.oneOf
	}
	for op, list := range map[string][]string{"superset_of": sp.supersetOf, "add": sp.add} {
		if list != nil {
			ops[op] = sp.operand(t, op, list)
		}
	}
	if sp.hasSubsetOf {
		ops["subset_of"] = sp.operand(t, "subset_of", sp.subsetOf)
	}
	if sp.hasDefault {
		if sp.array || sp.scope {
			ops["default"] = sp.operand(t, "default", sp.def)
		} else {
			ops["default"] = sp.def[0]
		}
	}
	if sp.essential {
		ops["essential"] = true
	}
	return ops
}

// drawValue draws a value for member base: mostly of the right type,
// sometimes not.
func drawValue(t *rapid.T, base, label string) any {
	switch {
	case rapid.IntRange(0, 15).Draw(t, label+" wrong type") == 0:
		return rapid.SampledFrom([]any{json.Number("1"), true, []any{"Evil"}, map[string]any{}, "Evil"}).Draw(t, label+" odd")
	case base == "contacts":
		return toAny(someOf(t, contactPool, label))
	case base == "scope":
		words := someOf(t, scopePool, label)
		if rapid.Bool().Draw(t, label+" repeat") && len(words) > 0 {
			words = append(words, words[0])
		}
		return strings.Join(words, " ")
	}
	return rapid.SampledFrom(stringPool).Draw(t, label)
}

func toAny(ss []string) []any {
	out := []any{}
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// drawRequest draws client metadata with, for each member of the family,
// perhaps the member, and perhaps language-tagged variants of it.
func drawRequest(t *rapid.T) dcr.Metadata {
	m := dcr.Metadata{}
	for _, base := range append(slices.Clone(stringMembers), "contacts", "scope", "policy_uri") {
		switch rapid.IntRange(0, 3).Draw(t, base+" present") {
		case 0:
		case 1:
			m[base] = nil
		default:
			m[base] = drawValue(t, base, base)
		}
		for _, tag := range someOf(t, tags, base+" tags") {
			m[base+"#"+tag] = drawValue(t, base, base+"#"+tag)
		}
		if rapid.IntRange(0, 7).Draw(t, base+" random tag") == 0 {
			tag := rapid.StringMatching(`[A-Za-z0-9-]{0,12}`).Draw(t, base+" tag")
			m[base+"#"+tag] = drawValue(t, base, base+"#"+tag)
		}
	}
	return m
}

func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// values reads a member as the list of its values (scope: its words), or
// reports that it is not of the member's type.
func (sp memberSpec) values(v any) ([]string, bool) {
	switch {
	case sp.scope:
		s, ok := v.(string)
		return append([]string{}, strings.Fields(s)...), ok
	case sp.array:
		a, ok := v.([]any)
		out := []string{}
		for _, x := range a {
			s, isString := x.(string)
			if !isString {
				return nil, false
			}
			out = append(out, s)
		}
		return out, ok
	}
	s, ok := v.(string)
	return []string{s}, ok
}

func subsetOf(a, b []string) bool {
	return !slices.ContainsFunc(a, func(v string) bool { return !slices.Contains(b, v) })
}

// TestMetadataPolicyProperties: for any policy of the family and any
// request with language-tagged variants of the members it governs, what
// leaves the policy obeys it, for each member and each tagged variant:
// value fixes the member and leaves no variant; one_of, subset_of and
// superset_of hold for the member and every variant; add's values are
// there; essential members are present; scope asked for and restricted is
// never left out; no variant is made up; members the policy does not
// govern are untouched. A refusal is invalid_client_metadata, and a
// request whose values all pass one_of, with no superset_of nor essential
// to miss, is not refused.
func TestMetadataPolicyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		specs := map[string]memberSpec{}
		doc := map[string]any{}
		for _, name := range append(slices.Clone(stringMembers), "contacts", "scope") {
			if rapid.IntRange(0, 3).Draw(t, name+" governed") > 0 {
				sp := drawSpec(t, name)
				specs[name], doc[name] = sp, sp.json(t)
			}
		}
		raw, _ := json.Marshal(doc)
		p, err := policy.ParseMetadataPolicy(raw)
		if err != nil {
			t.Fatalf("the policy %s is refused: %v", raw, err)
		}
		before := drawRequest(t)
		after := dcr.Metadata{}
		for k, v := range before {
			after[k] = v
		}
		// A copy of what the request holds: the policy may change it.
		reqJSON := canon(before)
		var refusal *dcr.Error
		if err := p.Policy()(httptest.NewRequest("POST", "/register", nil), after); err != nil {
			if !errors.As(err, &refusal) || refusal.Code != dcr.InvalidClientMetadata {
				t.Fatalf("%s on %s: %v", raw, reqJSON, err)
			}
			if conforming(specs, before) {
				t.Fatalf("%s refuses %s, which conforms: %v", raw, reqJSON, err)
			}
			return
		}
		for name, v := range after {
			base, _, tagged := strings.Cut(name, "#")
			sp, governed := specs[base]
			if !governed {
				if canon(v) != canon(before[name]) {
					t.Fatalf("%s changed %q, which it does not govern: %s to %s", raw, name, canon(before[name]), canon(v))
				}
				continue
			}
			if _, sent := before[name]; tagged && !sent {
				t.Fatalf("%s made up %q", raw, name)
			}
			if v == nil {
				t.Fatalf("%s left %q null", raw, name)
			}
			if sp.hasValue {
				if tagged {
					t.Fatalf("%s sets %q and left the variant %q (%s) of %s", raw, base, name, canon(v), reqJSON)
				}
				if got, want := canonValue(sp, v), canonValue(sp, sp.value); got != want {
					t.Fatalf("%s: %q is %s, not the value %s", raw, name, got, want)
				}
			}
			vals, ok := sp.values(v)
			if !ok && (sp.oneOf != nil || sp.scope || (sp.array && (sp.hasSubsetOf || sp.supersetOf != nil || sp.add != nil))) {
				t.Fatalf("%s let %q through as %s", raw, name, canon(v))
			}
			if !ok {
				continue // no operator of the member looks at its type
			}
			switch {
			case sp.oneOf != nil && !slices.Contains(sp.oneOf, vals[0]):
				t.Fatalf("%s: %q is %s, not one of %v (request %s)", raw, name, canon(v), sp.oneOf, reqJSON)
			case sp.hasSubsetOf && !subsetOf(vals, sp.subsetOf):
				t.Fatalf("%s: %q is %s, not within %v (request %s)", raw, name, canon(v), sp.subsetOf, reqJSON)
			case !subsetOf(sp.supersetOf, vals):
				t.Fatalf("%s: %q is %s, without %v (request %s)", raw, name, canon(v), sp.supersetOf, reqJSON)
			case !subsetOf(sp.add, vals):
				t.Fatalf("%s: %q is %s, without the added %v (request %s)", raw, name, canon(v), sp.add, reqJSON)
			case sp.scope && !tagged && len(vals) == 0:
				t.Fatalf("%s left an empty scope (request %s)", raw, reqJSON)
			}
		}
		for name, sp := range specs {
			v, present := after[name]
			present = present && v != nil
			if sp.essential && !present {
				t.Fatalf("%s: the essential %q is missing from %s", raw, name, canon(after))
			}
			if list, isList := sp.value.([]string); sp.hasValue && sp.value != nil && (!isList || len(list) > 0) && !present {
				t.Fatalf("%s: %q has no value", raw, name)
			}
			if s, _ := before["scope"].(string); name == "scope" && sp.hasSubsetOf && !sp.hasValue && strings.TrimSpace(s) != "" && !present {
				t.Fatalf("%s: the scope %q asked for became no scope, which asks for any", raw, s)
			}
		}
	})
}

func canonValue(sp memberSpec, v any) string {
	if vals, ok := sp.values(v); ok && (sp.scope || sp.array) {
		return canon(vals)
	}
	if ss, ok := v.([]string); ok {
		return canon(append([]string{}, ss...))
	}
	return canon(v)
}

// conforming reports whether no member of m can be refused by specs: the
// right types, one_of's values, and no superset_of, essential or
// restricted scope that the request could miss.
func conforming(specs map[string]memberSpec, m dcr.Metadata) bool {
	for name, v := range m {
		base, _, _ := strings.Cut(name, "#")
		sp, governed := specs[base]
		if !governed || v == nil {
			continue
		}
		vals, ok := sp.values(v)
		if !ok && !sp.hasValue && sp.oneOf == nil && !sp.scope && !(sp.array && (sp.hasSubsetOf || sp.add != nil)) {
			continue
		}
		if !ok || sp.supersetOf != nil || sp.essential || (sp.scope && sp.hasSubsetOf && !sp.hasDefault) {
			return false
		}
		if sp.oneOf != nil && (!sp.hasValue || name != base) && !slices.Contains(sp.oneOf, vals[0]) {
			return false
		}
	}
	for _, sp := range specs {
		if sp.essential || sp.supersetOf != nil {
			return false
		}
	}
	return true
}
