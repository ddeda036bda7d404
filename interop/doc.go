// Package interop proves that widely used third-party DCR clients accept
// what the dcr handler answers, over real HTTP on 127.0.0.1 against the
// handler and the Authlete emulator. It is a module of its own so that the
// clients' dependencies never reach the library's users.
//
// Go clients are tested here; Node clients live in node/ and are run by
// TestNodeClients (run "npm ci" in node/ first, as scripts/test.sh does).
package interop
