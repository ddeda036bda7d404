#!/usr/bin/env bash
# Runs every test of the project on a fresh machine with Go: the module's
# unit tests, examples and fuzz seed corpora under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

go test -race -count=1 -timeout 15m ./...
