package loopback

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"
)

func TestHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.255.0.9": true, "::1": true,
		"::ffff:127.0.0.1": true, "0:0:0:0:0:0:0:1": true,
		"localhoſt": false, "locaLhoſt": false, "ｌocalhost": false, "localhost\x00": false,
		"": false, "localhost.": false, "localhost.example.com": false, "127.0.0.1.nip.io": false,
		"128.0.0.1": false, "::2": false, "::": false, "0.0.0.0": false, "[::1]": false, "::1%eth0": false,
		"127.1": false, "0x7f000001": false, "2130706433": false, "127.000.000.001": false,
	} {
		if got := Host(host); got != want {
			t.Errorf("Host(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRedirectHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "::1": true,
		"127.0.0.2": false, "::ffff:127.0.0.1": false, "0:0:0:0:0:0:0:1": false, "[::1]": false,
		"localhost.": false, "example.com": false, "": false, "localhoſt": false,
	} {
		if got := RedirectHost(host); got != want {
			t.Errorf("RedirectHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestAddrIsHost: for every address, Host of its text and Addr agree with
// net.IP.IsLoopback, whether the address is written as IPv4, IPv6 or
// IPv4-mapped IPv6; and RedirectHost never holds for a host Host refuses.
func TestAddrIsHost(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a netip.Addr
		if rapid.Bool().Draw(t, "v4") {
			b := rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "b")
			if rapid.Bool().Draw(t, "loopbackish") {
				b[0] = 127
			}
			a = netip.AddrFrom4([4]byte(b))
			if rapid.Bool().Draw(t, "mapped") {
				a = netip.AddrFrom16(a.As16())
			}
		} else {
			b := rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "b")
			if rapid.Bool().Draw(t, "loopbackish") {
				clear(b[:15])
			}
			a = netip.AddrFrom16([16]byte(b))
		}
		want := net.IP(a.AsSlice()).IsLoopback()
		if Addr(a) != want || Host(a.String()) != want {
			t.Fatalf("%s: Addr %v, Host %v, net.IP.IsLoopback %v", a, Addr(a), Host(a.String()), want)
		}
		if RedirectHost(a.String()) && !want {
			t.Fatalf("RedirectHost(%s) holds for a host that is not loopback", a)
		}
	})
}

// TestNameASCIIOnly: Name holds exactly for the ASCII spellings of
// localhost, whatever the case; never for one with a rune that folds to
// one of its letters (ſ, the Kelvin sign, full-width forms, dotted and
// dotless i) or a letter more or less.
func TestNameASCIIOnly(t *testing.T) {
	lookalikes := []rune("ſKｌＬｏ\u0130\u0131.\x00")
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		for i, r := range Localhost {
			switch rapid.IntRange(0, 11).Draw(t, "how "+strconv.Itoa(i)) {
			case 0:
				b.WriteRune(unicode.ToUpper(r))
			case 1:
				b.WriteRune(rapid.SampledFrom(lookalikes).Draw(t, "lookalike"))
			case 2:
				if rapid.Bool().Draw(t, "drop") {
					continue
				}
				b.WriteRune(r)
				b.WriteRune(r)
			default:
				b.WriteRune(r)
			}
		}
		s := b.String()
		ascii := true
		for _, r := range s {
			ascii = ascii && r < 0x80
		}
		if want := ascii && strings.ToLower(s) == Localhost; Name(s) != want {
			t.Fatalf("Name(%q) = %v, want %v", s, Name(s), want)
		}
	})
}
