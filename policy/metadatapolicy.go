package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/dcr-go/dcr"
)

// The operators of the metadata policy language of OpenID Federation 1.0
// §6.1.3.1, in the order in which they are applied (§6.1.4.2).
var policyOperators = []string{"value", "add", "default", "one_of", "subset_of", "superset_of", "essential"}

// MetadataPolicy is a metadata policy in the language of OpenID Federation
// 1.0 §6.1: for each client metadata member, operators that set (value),
// extend (add), fill in (default), restrict (subset_of) or check (one_of,
// superset_of, essential) it. Authlete applies the same language to
// clients of Client ID Metadata Documents (the service's
// cimdMetadataPolicy), so one file can govern both kinds of client.
//
//	{
//	  "scope":       {"subset_of": ["mcp", "offline_access"], "default": "mcp"},
//	  "grant_types": {"subset_of": ["authorization_code", "refresh_token"], "essential": true}
//	}
//
// The scope member, a string of space-separated values, is treated as a
// list of them; its operands may be written as such a string or as an
// array. Use ParseMetadataPolicy; the zero value is an empty policy.
type MetadataPolicy struct {
	members []memberPolicy // sorted by name
}

// memberPolicy are the operators of one member. A nil field is an
// operator the policy does not use; a given one is never nil, even empty
// (an empty subset_of leaves nothing of the member: see Policy).
type memberPolicy struct {
	name       string
	scope      bool // a space-separated string, handled as a list
	value      *operand
	add        []any
	def        any
	oneOf      []any
	subsetOf   []any
	supersetOf []any
	essential  bool
}

// operand is the value of the value operator: any JSON value, null
// included (which removes the member).
type operand struct{ v any }

// ParseMetadataPolicy parses and checks a metadata policy: a JSON object
// of client metadata members, each an object of operators. The object may
// also be wrapped in {"openid_relying_party": ...}, as in an OpenID
// Federation subordinate statement. An unknown operator, an operand of the
// wrong type and operators that contradict each other (§6.1.3.1: a value
// outside one_of, subset_of or superset_of; superset_of not within
// subset_of; add outside subset_of; a default outside one_of or subset_of
// or not within superset_of; one_of with add, subset_of or superset_of;
// essential with a null value; an empty one_of; one_of for scope, a list
// of values and not a single one) are errors that name the member and the
// operator.
func ParseMetadataPolicy(data []byte) (*MetadataPolicy, error) {
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, fmt.Errorf("policy: a metadata policy is a JSON object of members, each an object of operators")
	}
	if inner, ok := doc["openid_relying_party"]; ok && len(doc) == 1 {
		return ParseMetadataPolicy(inner)
	}
	p := &MetadataPolicy{}
	for name, raw := range doc {
		var ops map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&ops); err != nil || ops == nil {
			return nil, fmt.Errorf("policy: metadata policy member %q: not an object of operators", name)
		}
		mp, err := parseMember(name, ops)
		if err != nil {
			return nil, err
		}
		p.members = append(p.members, mp)
	}
	sort.Slice(p.members, func(i, j int) bool { return p.members[i].name < p.members[j].name })
	return p, nil
}

func parseMember(name string, ops map[string]any) (memberPolicy, error) {
	mp := memberPolicy{name: name, scope: name == "scope"}
	bad := func(op, format string, args ...any) error {
		return fmt.Errorf("policy: metadata policy member %q, operator %q: %s", name, op, fmt.Sprintf(format, args...))
	}
	list := func(op string, v any) ([]any, error) {
		if s, ok := v.(string); ok && mp.scope {
			return toAnys(strings.Fields(s)), nil
		}
		a, ok := v.([]any)
		if !ok {
			return nil, bad(op, "the operand must be an array")
		}
		return a, nil
	}
	for op, v := range ops {
		var err error
		switch op {
		case "value":
			if a, err := list(op, v); mp.scope && err == nil {
				v = a
				if len(a) == 0 {
					v = nil // no scope: as null, which removes it
				}
			}
			mp.value = &operand{v}
		case "add":
			mp.add, err = list(op, v)
		case "default":
			if v == nil {
				return mp, bad(op, "the operand must not be null")
			}
			if a, err := list(op, v); mp.scope && err == nil {
				if len(a) == 0 {
					return mp, bad(op, "the operand must not be empty")
				}
				v = a
			}
			mp.def = v
		case "one_of":
			if mp.scope {
				return mp, bad(op, "scope is a list of space-separated values, and one_of is for a single value: use subset_of (and superset_of)")
			}
			if mp.oneOf, err = list(op, v); err == nil && len(mp.oneOf) == 0 {
				err = bad(op, "the operand must not be empty")
			}
		case "subset_of":
			mp.subsetOf, err = list(op, v)
		case "superset_of":
			mp.supersetOf, err = list(op, v)
		case "essential":
			b, ok := v.(bool)
			if !ok {
				return mp, bad(op, "the operand must be true or false")
			}
			mp.essential = b
		default:
			return mp, bad(op, "not an operator of OpenID Federation 1.0 §6.1 (%s)", strings.Join(policyOperators, ", "))
		}
		if err != nil {
			return mp, err
		}
	}
	return mp, mp.check(bad)
}

// check applies the combination rules of §6.1.3.1.
func (mp *memberPolicy) check(bad func(op, format string, args ...any) error) error {
	if mp.oneOf != nil && (mp.add != nil || mp.subsetOf != nil || mp.supersetOf != nil) {
		return bad("one_of", "cannot be combined with add, subset_of or superset_of: one_of is for a single value, they are for arrays")
	}
	if mp.subsetOf != nil && mp.supersetOf != nil && !subset(mp.supersetOf, mp.subsetOf) {
		return bad("superset_of", "%s is not within subset_of %s", canonical(mp.supersetOf), canonical(mp.subsetOf))
	}
	if mp.add != nil && mp.subsetOf != nil && !subset(mp.add, mp.subsetOf) {
		return bad("add", "%s is not within subset_of %s", canonical(mp.add), canonical(mp.subsetOf))
	}
	if v := mp.value; v != nil {
		switch {
		case v.v == nil && mp.essential:
			return bad("value", "null removes the member, which essential requires")
		case v.v == nil && mp.def != nil:
			return bad("default", "cannot be combined with a null value")
		case v.v == nil:
		case mp.oneOf != nil && !contains(mp.oneOf, v.v):
			return bad("value", "%s is not one of %s", canonical(v.v), canonical(mp.oneOf))
		case mp.subsetOf != nil && !subsetValue(v.v, mp.subsetOf):
			return bad("value", "%s is not within subset_of %s", canonical(v.v), canonical(mp.subsetOf))
		case mp.supersetOf != nil && !supersetValue(v.v, mp.supersetOf):
			return bad("value", "%s does not contain superset_of %s", canonical(v.v), canonical(mp.supersetOf))
		case mp.add != nil && !supersetValue(v.v, mp.add):
			return bad("value", "%s does not contain add %s", canonical(v.v), canonical(mp.add))
		}
	}
	if d := mp.def; d != nil {
		switch {
		case mp.oneOf != nil && !contains(mp.oneOf, d):
			return bad("default", "%s is not one of %s", canonical(d), canonical(mp.oneOf))
		case mp.subsetOf != nil && !subsetValue(d, mp.subsetOf):
			return bad("default", "%s is not within subset_of %s", canonical(d), canonical(mp.subsetOf))
		case mp.supersetOf != nil && !supersetValue(d, mp.supersetOf):
			return bad("default", "%s does not contain superset_of %s", canonical(d), canonical(mp.supersetOf))
		}
	}
	return nil
}

// Governs reports whether p has operators for the member name.
func (p *MetadataPolicy) Governs(name string) bool {
	return slices.ContainsFunc(p.members, func(mp memberPolicy) bool { return mp.name == name })
}

// Policy applies p to the client metadata of registrations and updates:
// members set, extended, filled in or restricted as the operators say, and
// a violation of one_of, superset_of or essential, or a member of the
// wrong type for its operators, refused with invalid_client_metadata
// naming the member and the operator.
//
// A language-tagged member ("client_name#ja", OpenID Connect Dynamic
// Client Registration §2.1) is governed by the policy of its member: one_of,
// subset_of, superset_of and add apply to it as to the member; value,
// which fixes the member, removes every tagged variant (a name in
// Japanese that the policy did not set is still a name the policy did
// not set); default and essential concern the member itself, and a
// tagged variant is never made up.
//
// When subset_of leaves nothing of what the client asked for, the member
// is refused if it is essential, gets the default if the policy has one
// (as an absent member would), and is otherwise removed, but for scope,
// which is refused: Authlete registers a client without a scope with no
// limit on the scopes it may request.
func (p *MetadataPolicy) Policy() dcr.Policy {
	return func(_ *http.Request, m dcr.Metadata) error {
		for i := range p.members {
			if err := p.members[i].apply(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// taggedVariants returns the language-tagged variants of the member name
// in m ("name#ja", "name#en-US", even "name#"), sorted.
func taggedVariants(m dcr.Metadata, name string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, name+"#") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// apply applies the member's operators to m, in the specification's
// order: to the member, and to each of its language-tagged variants.
func (mp *memberPolicy) apply(m dcr.Metadata) error {
	for _, name := range taggedVariants(m, mp.name) {
		if mp.value != nil {
			delete(m, name)
			continue
		}
		if err := mp.applyTo(m, name, false); err != nil {
			return err
		}
	}
	return mp.applyTo(m, mp.name, true)
}

// applyTo applies the member's operators to the member name of m: the
// member itself when base is true, else one of its tagged variants, which
// value, default and essential leave alone.
func (mp *memberPolicy) applyTo(m dcr.Metadata, name string, base bool) error {
	reject := func(op, format string, args ...any) error {
		return dcr.Reject(dcr.InvalidClientMetadata, fmt.Sprintf("The value of %q violates the %s policy: ", name, op)+fmt.Sprintf(format, args...))
	}
	cur, present, err := mp.current(m, name, reject)
	if err != nil {
		return err
	}
	if mp.value != nil && base { // value wins; its combinations were checked
		cur, present = mp.value.v, mp.value.v != nil
	}
	if mp.add != nil && (base || present) {
		var list []any
		if present {
			list = slices.Clone(cur.([]any))
		}
		for _, v := range mp.add {
			if !contains(list, v) {
				list = append(list, v)
			}
		}
		cur, present = list, true
	}
	if !present && mp.def != nil && base {
		cur, present = mp.def, true
	}
	if present && mp.oneOf != nil && !contains(mp.oneOf, cur) {
		return reject("one_of", "%s is not one of %s", canonical(cur), canonical(mp.oneOf))
	}
	emptied := false
	if present && mp.subsetOf != nil {
		var kept []any
		for _, v := range cur.([]any) {
			if contains(mp.subsetOf, v) && !contains(kept, v) {
				kept = append(kept, v)
			}
		}
		emptied = len(kept) == 0
		cur, present = kept, !emptied
	}
	if emptied && base && !mp.essential && mp.value == nil {
		switch {
		case mp.def != nil: // within subset_of and superset_of: checked
			cur, present = mp.def, true
		case mp.scope:
			return reject("subset_of", "none of the scopes asked for is in %s, and a client registered without a scope may ask for any", canonical(mp.subsetOf))
		}
	}
	if present && mp.supersetOf != nil && !supersetValue(cur, mp.supersetOf) {
		return reject("superset_of", "%s does not contain %s", canonical(cur), canonical(mp.supersetOf))
	}
	if !present && mp.essential && base {
		if emptied {
			return reject("subset_of", "none of its values is in %s, and it is required", canonical(mp.subsetOf))
		}
		return reject("essential", "it is required")
	}
	mp.store(m, name, cur, present)
	return nil
}

// current returns the value of the member name of m for the operators,
// and whether it is present (not null): a scope as the array of its
// words, present when it has one. A value of the wrong type for them
// (reject says why) is an error.
func (mp *memberPolicy) current(m dcr.Metadata, name string, reject func(op, format string, args ...any) error) (cur any, present bool, err error) {
	cur, present = m[name]
	if cur == nil {
		present = false
	}
	if present && mp.scope {
		s, ok := cur.(string)
		if !ok {
			return nil, false, reject("metadata", "it must be a string of space-separated scopes")
		}
		if cur = toAnys(strings.Fields(s)); len(cur.([]any)) == 0 {
			present = false
		}
	}
	arrayOps := mp.add != nil || mp.subsetOf != nil || mp.supersetOf != nil
	if present && arrayOps && !mp.scope {
		if _, ok := cur.([]any); !ok {
			return nil, false, reject("metadata", "it must be an array")
		}
	}
	return cur, present, nil
}

// store sets the member name of m to cur, a scope as its words joined
// by spaces, or deletes it when it is not present.
func (mp *memberPolicy) store(m dcr.Metadata, name string, cur any, present bool) {
	switch {
	case !present:
		delete(m, name)
	case mp.scope:
		var words []string
		for _, v := range cur.([]any) {
			if s, ok := v.(string); ok {
				words = append(words, s)
			}
		}
		m[name] = strings.Join(words, " ")
	default:
		m[name] = cur
	}
}

// Equal reports whether p and q are the same policy: the same members
// with the same operators, the operands of one_of, subset_of, superset_of
// and add compared as sets.
func (p *MetadataPolicy) Equal(q *MetadataPolicy) bool { return len(p.Diff(q)) == 0 }

// Diff lists the differences between p and q, one line for each member
// and operator, e.g. `scope subset_of: ["mcp"] here, ["mcp","openid"] there`.
func (p *MetadataPolicy) Diff(q *MetadataPolicy) []string {
	ops := func(mp *memberPolicy) map[string]string {
		out := map[string]string{}
		if mp == nil {
			return out
		}
		if mp.value != nil {
			out["value"] = canonical(mp.value.v)
		}
		if mp.def != nil {
			out["default"] = canonical(mp.def)
		}
		if mp.essential {
			out["essential"] = "true"
		}
		for op, set := range map[string][]any{"add": mp.add, "one_of": mp.oneOf} {
			if set != nil {
				out[op] = showSet(set)
			}
		}
		if mp.subsetOf != nil {
			out["subset_of"] = showSet(mp.subsetOf)
		}
		if mp.supersetOf != nil {
			out["superset_of"] = showSet(mp.supersetOf)
		}
		return out
	}
	find := func(p *MetadataPolicy, name string) *memberPolicy {
		for i := range p.members {
			if p.members[i].name == name {
				return &p.members[i]
			}
		}
		return nil
	}
	names := map[string]bool{}
	for _, x := range [][]memberPolicy{p.members, q.members} {
		for _, mp := range x {
			names[mp.name] = true
		}
	}
	var diffs []string
	for _, name := range slices.Sorted(maps.Keys(names)) {
		a, b := ops(find(p, name)), ops(find(q, name))
		for _, op := range policyOperators {
			if a[op] != b[op] {
				diffs = append(diffs, fmt.Sprintf("%s %s: %s here, %s there", name, op, orNone(a[op]), orNone(b[op])))
			}
		}
	}
	return diffs
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func toAnys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// canonical is v as JSON, for comparisons: 1 and 1.0 are the same number.
func canonical(v any) string {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			v = f
		}
	}
	if a, ok := v.([]any); ok {
		parts := make([]string, len(a))
		for i, x := range a {
			parts[i] = canonical(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// showSet is a set of values as sorted JSON.
func showSet(set []any) string {
	parts := make([]string, 0, len(set))
	for _, v := range set {
		parts = append(parts, canonical(v))
	}
	slices.Sort(parts)
	return "[" + strings.Join(slices.Compact(parts), ",") + "]"
}

func contains(list []any, v any) bool {
	c := canonical(v)
	return slices.ContainsFunc(list, func(x any) bool { return canonical(x) == c })
}

// subset reports whether every value of a is in b.
func subset(a, b []any) bool {
	return !slices.ContainsFunc(a, func(v any) bool { return !contains(b, v) })
}

// subsetValue reports whether v is an array within b.
func subsetValue(v any, b []any) bool {
	a, ok := v.([]any)
	return ok && subset(a, b)
}

// supersetValue reports whether v is an array that contains every value
// of b.
func supersetValue(v any, b []any) bool {
	a, ok := v.([]any)
	return ok && subset(b, a)
}
