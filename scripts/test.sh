#!/usr/bin/env bash
# Runs every test of the project on a fresh machine with Go and Node:
# the module's unit tests, examples and fuzz seed corpora under the race
# detector, then the interoperability suite (third-party Go and Node DCR
# clients against the handler and the Authlete emulator).
set -euo pipefail
cd "$(dirname "$0")/.."

go test -race -count=1 -timeout 15m ./...

(cd interop/node && npm ci --no-audit --no-fund)
(cd interop && go test -race -count=1 -timeout 10m ./...)
