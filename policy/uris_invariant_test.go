package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/idna"
	"pgregory.net/rapid"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authletetest"
	"github.com/dcr-go/dcr/policy"
)

// The members the authorization server itself fetches or posts to, as
// this test knows them (not read from the code under test).
var serverSideMembers = []string{"jwks_uri", "signed_jwks_uri", "sector_identifier_uri", "request_uris",
	"backchannel_logout_uri", "backchannel_client_notification_endpoint"}

// internalRanges are the ranges a server-side URI must never reach, from
// IANA's special-purpose address registries, written here independently
// of policy/uris.go.
var internalRanges = []string{
	"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "169.254.169.254/32",
	"100.64.0.0/10", "0.0.0.0/8", "0.0.0.0/32", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
	"192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
	"::1/128", "::/128", "fe80::/10", "fc00::/7", "fec0::/10", "ff00::/8", "64:ff9b:1::/48", "2001:db8::/32",
	"100::/64", "fd00:ec2::254/128",
}

// internalNames are DNS names that reach the server's own network.
var internalNames = []string{"localhost", "foo.localhost", "a.b.localhost", "metadata", "kubernetes",
	"metadata.google.internal", "redis.default.svc", "printer.local", "router.home.arpa", "nas.lan",
	"localhost.localdomain", "ip6-localhost"}

// uts46LookAlikes maps each ASCII string of digits, lower-case letters
// and dots to the code points that UTS 46 maps to it (fullwidth digits,
// ideographic full stops, enclosed and mathematical alphanumerics...), as
// x/net/idna reports them under the WHATWG URL standard's options.
func uts46LookAlikes(t testing.TB) map[string][]rune {
	p := idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.CheckHyphens(false))
	m := map[string][]rune{}
	for r := rune(0x80); r < 0x20000; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		out, err := p.ToASCII("x" + string(r) + "x")
		if err != nil || !strings.HasPrefix(out, "x") || !strings.HasSuffix(out, "x") || len(out) < 2 {
			continue
		}
		if out == "xx" { // ignored: soft hyphen, variation selectors
			m[""] = append(m[""], r)
			continue
		}
		target := out[1 : len(out)-1]
		if strings.Trim(target, "0123456789abcdefghijklmnopqrstuvwxyz.") == "" {
			m[target] = append(m[target], r)
		}
	}
	for _, want := range []string{"", ".", "0", "1", "7", "x", "l", "o"} {
		require.NotEmpty(t, m[want], "UTS 46 maps no code point to %q", want)
	}
	return m
}

// notation is an internal host rendered for a URI, with what it names.
type notation struct {
	host string     // as written in the URI, brackets included
	addr netip.Addr // what it names, when an address
	name string     // what it names, when a DNS name
}

// what says what n names.
func (n notation) what() string {
	if n.name != "" {
		return n.name
	}
	return n.addr.String()
}

func randomAddr(t *rapid.T) netip.Addr {
	p := netip.MustParsePrefix(rapid.SampledFrom(internalRanges).Draw(t, "range"))
	b := p.Addr().AsSlice()
	for i := range b {
		bitsFixed := min(max(p.Bits()-8*i, 0), 8)
		mask := byte(0xff >> bitsFixed)
		b[i] = b[i]&^mask | byte(rapid.IntRange(0, 255).Draw(t, "byte"))&mask
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ipv4Part renders n in decimal, octal or hexadecimal, as the WHATWG
// parser and inet_aton read them.
func ipv4Part(t *rapid.T, n uint32) string {
	zeros := strings.Repeat("0", rapid.IntRange(0, 3).Draw(t, "zeros"))
	switch rapid.IntRange(0, 2).Draw(t, "base") {
	case 1:
		return "0" + zeros + fmt.Sprintf("%o", n)
	case 2:
		s := rapid.SampledFrom([]string{"0x", "0X"}).Draw(t, "0x") + zeros + fmt.Sprintf("%x", n)
		if rapid.Bool().Draw(t, "upper") {
			s = strings.ToUpper(s)
		}
		return s
	}
	return fmt.Sprint(n)
}

// ipv4Notation renders a in one to four parts, each in a random base.
func ipv4Notation(t *rapid.T, a netip.Addr) string {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	var parts []string
	switch rapid.IntRange(1, 4).Draw(t, "parts") {
	case 1:
		parts = []string{ipv4Part(t, v)}
	case 2:
		parts = []string{ipv4Part(t, v>>24), ipv4Part(t, v&0xffffff)}
	case 3:
		parts = []string{ipv4Part(t, v>>24), ipv4Part(t, v>>16&0xff), ipv4Part(t, v&0xffff)}
	default:
		parts = []string{ipv4Part(t, v>>24), ipv4Part(t, v>>16&0xff), ipv4Part(t, v>>8&0xff), ipv4Part(t, v&0xff)}
	}
	return strings.Join(parts, ".")
}

// ipv6Notation renders a 16-byte address compressed, expanded, in upper
// case, or with its last 32 bits dotted.
func ipv6Notation(t *rapid.T, a netip.Addr) string {
	b := a.As16()
	var s string
	switch rapid.IntRange(0, 2).Draw(t, "v6form") {
	case 0:
		s = netip.AddrFrom16(b).String()
	case 1:
		s = netip.AddrFrom16(b).StringExpanded()
	default:
		groups := make([]string, 6)
		for i := range groups {
			groups[i] = fmt.Sprintf("%x", uint16(b[2*i])<<8|uint16(b[2*i+1]))
		}
		s = strings.Join(groups, ":") + fmt.Sprintf(":%d.%d.%d.%d", b[12], b[13], b[14], b[15])
	}
	if rapid.Bool().Draw(t, "v6upper") {
		s = strings.ToUpper(s)
	}
	return "[" + s + "]"
}

// embed carries the IPv4 address v4 in an IPv6 address that clients
// reach it through: IPv4-mapped, NAT64, 6to4 or Teredo.
func embed(t *rapid.T, v4 netip.Addr) netip.Addr {
	b4 := v4.As4()
	var b [16]byte
	switch rapid.IntRange(0, 3).Draw(t, "embedding") {
	case 0: // ::ffff:0:0/96
		b[10], b[11] = 0xff, 0xff
		copy(b[12:], b4[:])
	case 1: // 64:ff9b::/96
		b[1], b[2], b[3] = 0x64, 0xff, 0x9b
		copy(b[12:], b4[:])
	case 2: // 2002::/16
		b[0], b[1] = 0x20, 0x02
		copy(b[2:6], b4[:])
		b[15] = byte(rapid.IntRange(0, 255).Draw(t, "host"))
	default: // 2001::/32, the client's address inverted
		b[0], b[1] = 0x20, 0x01
		for i := range 4 {
			b[12+i] = ^b4[i]
		}
	}
	return netip.AddrFrom16(b)
}

// internalNotation draws an internal host in a random notation.
func internalNotation(t *rapid.T) notation {
	if rapid.IntRange(0, 4).Draw(t, "kind") == 0 {
		name := rapid.SampledFrom(internalNames).Draw(t, "name")
		written := name
		if rapid.Bool().Draw(t, "upper") {
			written = strings.ToUpper(name)
		}
		return notation{host: written, name: name}
	}
	a := randomAddr(t)
	switch {
	case a.Is4() && rapid.IntRange(0, 3).Draw(t, "v4embedded") == 0:
		return notation{host: ipv6Notation(t, embed(t, a)), addr: a}
	case a.Is4():
		return notation{host: ipv4Notation(t, a), addr: a}
	}
	return notation{host: ipv6Notation(t, a), addr: a}
}

// disguise rewrites the host with UTS 46 look-alikes and percent-encoded
// UTF-8, a trailing dot, user information and a port.
func disguise(t *rapid.T, lookAlikes map[string][]rune, host string) string {
	if !strings.HasPrefix(host, "[") {
		if rapid.IntRange(0, 3).Draw(t, "trailing dot") == 0 {
			host += "."
		}
		var b strings.Builder
		for _, c := range host {
			if rapid.IntRange(0, 9).Draw(t, "ignored") == 0 {
				b.WriteRune(rapid.SampledFrom(lookAlikes[""]).Draw(t, "ignored code point"))
			}
			if alts := lookAlikes[strings.ToLower(string(c))]; len(alts) > 0 && rapid.IntRange(0, 2).Draw(t, "look-alike") == 0 {
				r := rapid.SampledFrom(alts).Draw(t, "code point")
				if rapid.IntRange(0, 3).Draw(t, "percent") == 0 {
					b.WriteString(url.QueryEscape(string(r)))
				} else {
					b.WriteRune(r)
				}
				continue
			}
			b.WriteRune(c)
		}
		host = b.String()
	}
	if rapid.IntRange(0, 4).Draw(t, "userinfo") == 0 {
		host = rapid.SampledFrom([]string{"evil@", "user:pass@", "a.example.com@"}).Draw(t, "user") + host
	}
	if rapid.Bool().Draw(t, "port") {
		host += rapid.SampledFrom([]string{":443", ":8080", ":6379", ":"}).Draw(t, "port number")
	}
	return host
}

// attackDoc puts uri into a random server-side member.
func attackDoc(t *rapid.T, uri string) (string, dcr.Metadata) {
	member := rapid.SampledFrom(serverSideMembers).Draw(t, "member")
	m := dcr.Metadata{"redirect_uris": []any{"https://app.example.com/cb"}}
	if member == "request_uris" {
		m[member] = []any{"https://app.example.com/request.jwt", uri}
	} else {
		m[member] = uri
	}
	return member, m
}

// TestSafeURIsRefusesInternalHosts: the invariant of SafeURIs. An
// internal address or name, in any notation this generator knows, in any
// member the authorization server fetches or posts to, is refused.
func TestSafeURIsRefusesInternalHosts(t *testing.T) {
	lookAlikes := uts46LookAlikes(t)
	p := policy.SafeURIs(policy.SafeURIOptions{})
	r := httptest.NewRequest("POST", "/register", nil)
	var seen []notation
	rapid.Check(t, func(t *rapid.T) {
		n := internalNotation(t)
		uri := rapid.SampledFrom([]string{"https", "HTTPS", "http"}).Draw(t, "scheme") + "://" +
			disguise(t, lookAlikes, n.host) + rapid.SampledFrom([]string{"/", "/jwks.json", "/latest/meta-data/", ""}).Draw(t, "path")
		member, m := attackDoc(t, uri)
		err := p(r, m)
		var pe *dcr.Error
		if !assert.ErrorAs(t, err, &pe, "%s %q (names %s) was accepted", member, uri, n.what()) {
			t.FailNow()
		}
		assert.Equal(t, dcr.InvalidClientMetadata, pe.Code)
		n.host = uri
		seen = append(seen, n)
	})
	checkWithGoAndNode(t, seen)
}

// checkWithGoAndNode checks the generator against real clients: Go's
// net/url with x/net/idna's Lookup profile (what net/http applies), and,
// when node is on the PATH, Node's WHATWG URL parser, must read each
// generated URI (in host) as the address or name it was generated from,
// or refuse it as a URL.
func checkWithGoAndNode(t *testing.T, generated []notation) {
	// reads reports whether a client that read the host h reaches n.
	reads := func(n notation, h string) bool {
		if n.name != "" {
			return strings.TrimSuffix(h, ".") == n.name
		}
		a, err := netip.ParseAddr(strings.Trim(h, "[]"))
		if err != nil {
			return false
		}
		return a.Unmap() == n.addr || a.Is6() && slices.ContainsFunc([]string{"64:ff9b::/96", "2002::/16", "2001::/32"},
			func(s string) bool { return netip.MustParsePrefix(s).Contains(a) }) // judged by the IPv4 address inside
	}
	goReadings := 0
	for _, n := range generated {
		u, err := url.Parse(n.host)
		if err != nil {
			continue
		}
		h, err := idna.Lookup.ToASCII(u.Hostname())
		if _, perr := netip.ParseAddr(h); err != nil || n.addr.IsValid() && perr != nil {
			continue // not an address to Go's resolver without inet_aton's forms
		}
		goReadings++
		assert.True(t, reads(n, h), "Go reads %q as %q, not %s", n.host, h, n.what())
	}
	t.Logf("%d generated URIs, %d of them read by Go's net/url and idna.Lookup", len(generated), goReadings)
	assert.Positive(t, goReadings)

	if _, err := exec.LookPath("node"); err != nil {
		t.Log("node not found: the WHATWG URL reading is not checked")
		return
	}
	uris := make([]string, len(generated))
	for i, n := range generated {
		uris[i] = n.host
	}
	in, _ := json.Marshal(uris)
	cmd := exec.Command("node", "-e", `
let uris = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(uris.map(u => { try { return new URL(u).hostname } catch (e) { return null } })));`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	var hosts []*string
	require.NoError(t, json.Unmarshal(out, &hosts))
	require.Len(t, hosts, len(uris))
	followed := 0
	for i, h := range hosts {
		if h == nil {
			continue
		}
		followed++
		assert.True(t, reads(generated[i], *h), "Node reads %q as %q, not %s", uris[i], *h, generated[i].what())
	}
	t.Logf("Node follows %d of %d generated URIs", followed, len(uris))
	assert.Greater(t, followed, len(uris)/2, "most generated notations are URLs that Node follows")
}

// TestSafeURIsAcceptsOnlyPublicReadings: the invariant from the other
// side. Hosts made of the pieces of IPv4 notations, names and their
// look-alikes are put in a server-side member; whatever SafeURIs accepts,
// Node's WHATWG URL parser must read as a public name or address.
func TestSafeURIsAcceptsOnlyPublicReadings(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found")
	}
	p := policy.SafeURIs(policy.SafeURIOptions{})
	r := httptest.NewRequest("PUT", "/register/x", nil)
	pieces := []string{"0", "1", "7", "8", "127", "0x7f", "0x", "x", "f", "08", "255", "169", "254", "10", ".", ".", ".",
		"。", "．", "｡", "%E3%80%82", "１", "𝟕", "⑦", "ⓛ", "ｌｏｃａｌｈｏｓｔ", "localhost", "local", "internal", "example", "com",
		"%C3%BC", "ü", "ß", "@", "[", "]", ":", "::1", "::ffff:", "ffff", "-", "_", "%31", "%2e", `\`, "\u200d", "xn--"}
	var accepted []string
	rapid.Check(t, func(t *rapid.T) {
		host := strings.Join(rapid.SliceOfN(rapid.SampledFrom(pieces), 1, 8).Draw(t, "host"), "")
		uri := "https://" + host + "/jwks"
		_, m := attackDoc(t, uri)
		if p(r, m) == nil {
			accepted = append(accepted, uri)
		}
	})
	if len(accepted) == 0 {
		return
	}
	in, _ := json.Marshal(accepted)
	cmd := exec.Command("node", "-e", `
let uris = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(uris.map(u => { try { return new URL(u).hostname } catch (e) { return null } })));`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	var hosts []*string
	require.NoError(t, json.Unmarshal(out, &hosts))
	for i, h := range hosts {
		if h == nil {
			continue // Node refuses the URL: nothing is fetched
		}
		name := strings.TrimSuffix(*h, ".")
		a, err := netip.ParseAddr(strings.Trim(name, "[]"))
		internal := err == nil && slices.ContainsFunc(internalRanges, func(s string) bool { return netip.MustParsePrefix(s).Contains(a.Unmap()) })
		assert.False(t, internal || slices.Contains(internalNames, name) || strings.HasSuffix(name, ".localhost") || !strings.Contains(name, "."),
			"SafeURIs accepted %q, which Node reads as %q", accepted[i], *h)
	}
	t.Logf("%d accepted URIs checked with Node", len(accepted))
}

// TestSafeURIsRefusesInternalHostsOverHTTP: the same attacks through the
// handler, on registration (POST) and update (PUT).
func TestSafeURIsRefusesInternalHostsOverHTTP(t *testing.T) {
	lookAlikes := uts46LookAlikes(t)
	emu := authletetest.NewServer(t, authletetest.Options{})
	mux := http.NewServeMux()
	dcr.Mount(mux, "/register", dcr.New(emu.Client(t), dcr.Options{Policies: []dcr.Policy{policy.SafeURIs(policy.SafeURIOptions{})}}))
	send := func(method, path, token string, m dcr.Metadata) (int, map[string]any) {
		body, _ := json.Marshal(m)
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		var got map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		return w.Code, got
	}
	status, reg := send("POST", "/register", "", dcr.Metadata{"redirect_uris": []any{"https://app.example.com/cb"}})
	require.Equal(t, 201, status, reg)
	clientID, token := reg["client_id"].(string), reg["registration_access_token"].(string)
	rapid.Check(t, func(t *rapid.T) {
		n := internalNotation(t)
		uri := "https://" + disguise(t, lookAlikes, n.host) + "/"
		_, m := attackDoc(t, uri)
		status, got := send("POST", "/register", "", m)
		assert.Equal(t, 400, status, "POST %q", uri)
		assert.Equal(t, string(dcr.InvalidClientMetadata), got["error"], "POST %q", uri)
		m["client_id"] = clientID
		status, got = send("PUT", "/register/"+clientID, token, m)
		assert.Equal(t, 400, status, "PUT %q", uri)
		assert.Equal(t, string(dcr.InvalidClientMetadata), got["error"], "PUT %q", uri)
	})
}

// TestSafeURIsAcceptsLegitimateURIs: the corpus that must pass, in every
// member of its kind.
func TestSafeURIsAcceptsLegitimateURIs(t *testing.T) {
	p := policy.SafeURIs(policy.SafeURIOptions{})
	r := httptest.NewRequest("POST", "/register", nil)
	public := []string{"https://client.example.org/my_public_keys.jwks", "https://8.8.8.8/jwks", "https://1e100.net/jwks",
		"https://bücher.example/jwks", "https://xn--bcher-kva.example/jwks", "https://B%C3%BCcher.example/jwks",
		"https://ＡＰＰ.example.com/jwks", "https://例え.テスト/jwks", "https://straße.de/jwks", "https://[2606:4700:4700::1111]/jwks",
		"https://[::ffff:8.8.8.8]/jwks", "https://[64:ff9b::808:808]/jwks", "https://[2002:808:808::1]/jwks",
		"https://example.com./jwks", "https://example.com:8443/jwks", "https://my_host.example.com/jwks",
		"https://127.0.0.1.nip.io/jwks", "https://auth.example.com/.well-known/jwks.json?v=2#k"}
	for _, member := range serverSideMembers {
		for _, uri := range public {
			m := dcr.Metadata{member: uri}
			if member == "request_uris" {
				m[member] = []any{uri}
			}
			assert.NoError(t, p(r, m), "%s %s", member, uri)
		}
	}
	browsed := append(public, "http://localhost:6274/", "http://127.0.0.1/logo.png", "http://[::1]:8080/", "https://10.0.0.1/intranet-logo.png")
	for _, member := range []string{"logo_uri", "client_uri", "policy_uri", "tos_uri", "tos_uri#fr", "logo_uri#ja", "initiate_login_uri", "frontchannel_logout_uri"} {
		for _, uri := range browsed {
			assert.NoError(t, p(r, dcr.Metadata{member: uri}), "%s %s", member, uri)
		}
	}
	redirects := []any{"http://localhost:6274/oauth/callback", "http://127.0.0.1:3334/oauth/callback", "http://[::1]:33418/",
		"cursor://anysphere.cursor-retrieval/oauth/callback", "vscode://vscode.github-authentication/did-authenticate",
		"com.example.app:/cb", "https://claude.ai/api/mcp/auth_callback", "https://chatgpt.com/connector_platform_oauth_redirect",
		"http://localhost:33418/", "openid-credential-offer://"}
	for _, member := range []string{"redirect_uris", "post_logout_redirect_uris"} {
		assert.NoError(t, p(r, dcr.Metadata{member: redirects}), member)
	}
	assert.NoError(t, p(r, dcr.Metadata{"credential_offer_endpoint": "openid-credential-offer://"}))
}
