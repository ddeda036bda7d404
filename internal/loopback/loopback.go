// Package loopback says whether a host is this machine, in the two
// meanings the project gives the word:
//
//   - Host (with Name and Addr, its parts): localhost, or any loopback
//     address (127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6).
//     Traffic to it does not leave the machine, so plain http is allowed
//     there in place of https: a redirect URI that a browser is sent to
//     (policy's URI checks), a JWKS URL (softwarestatement), the URL of a
//     development server. Names below localhost (app.localhost) are not
//     counted, though RFC 6761 lets them resolve to loopback. Host reads
//     an address as net.ParseIP does; a caller that reads hosts
//     otherwise (policy, by the WHATWG URL standard, where 127.1 is
//     127.0.0.1) asks Name and Addr with what it read.
//   - RedirectHost: the three hosts of a loopback redirect URI in RFC 8252
//     (§7.3, §8.3): localhost, 127.0.0.1 and ::1. It is narrower
//     on purpose: it recognises the redirect URIs that desktop and CLI
//     clients register (policy.NativeLoopback infers a native client from
//     them, a reserved name may keep them), not every address of the
//     machine: http://127.0.0.2/ is loopback, but no native client sends
//     it, and a URI that only some loopback address matches is no sign of
//     one.
//
// Both compare names without regard to ASCII case, as hosts are (RFC 3986
// §3.2.2).
package loopback

import (
	"net"
	"net/netip"
)

// Localhost is the loopback name (RFC 6761 §6.3).
const Localhost = "localhost"

// Host reports whether host, a host as url.URL.Hostname returns it
// (without brackets or port), is localhost or a loopback address in the
// notation net.ParseIP reads.
func Host(host string) bool {
	if Name(host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name reports whether name is localhost, in any ASCII case. Not
// strings.EqualFold, which folds more than ASCII: "localhoſt" (U+017F
// LATIN SMALL LETTER LONG S) is not this machine's name, though a
// resolver that maps names by UTS 46 may take it for one.
func Name(name string) bool {
	if len(name) != len(Localhost) {
		return false
	}
	for i := range len(name) {
		// Localhost is all lower-case letters: only a letter and its
		// upper case give it with the bit 0x20 set.
		if name[i]|0x20 != Localhost[i] {
			return false
		}
	}
	return true
}

// Addr reports whether a is a loopback address: 127.0.0.0/8 or ::1, an
// IPv4-mapped IPv6 address of 127.0.0.0/8 included, as net.IP.IsLoopback
// counts them.
func Addr(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// RedirectHost reports whether host, as url.URL.Hostname returns it, is
// one of the hosts of a loopback redirect URI in RFC 8252 (§7.3, §8.3):
// localhost (in any case), 127.0.0.1 or ::1.
func RedirectHost(host string) bool {
	return Name(host) || host == "127.0.0.1" || host == "::1"
}
