#!/usr/bin/env bash
# Runs every test of the project on a fresh machine with Go and Node:
# the library module's unit tests, examples and fuzz seed corpora; the
# example module's black-box, browser and load tests, under the race
# detector; dcr-doctor -clients against the built example; the conformance of
# the Authlete client and emulator to Authlete's OpenAPI document; the Kubernetes
# manifests of deploy/kubernetes against the built example and dcr-janitor;
# then the interoperability suite (third-party Go and Node DCR
# clients against the handler and the Authlete emulator). A real
# redis-server and a headless Chromium are installed from Debian's
# packages when missing. Every stage runs; the script fails at the end if
# any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
stage() {
	local name=$1
	shift
	echo "=== $name"
	if ! "$@"; then
		echo "--- FAILED: $name"
		failed+=("$name")
	fi
}

# install_debian installs Debian package $1 unless command $2 exists.
install_debian() {
	command -v "$2" >/dev/null && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	if [ -z "${apt_updated:-}" ]; then
		$sudo apt-get update -qq || return 1
		apt_updated=1
	fi
	$sudo apt-get install -y -qq "$1" >/dev/null
	command -v "$2" >/dev/null
}

stage "install redis-server" install_debian redis-server redis-server
stage "install chromium" install_debian chromium chromium
export DCR_REQUIRE_REDIS=1 DCR_REQUIRE_BROWSER=1
stage "go test (library)" go test -race -count=1 -timeout 20m ./...
stage "go test (iatredis)" bash -c 'cd iatredis && go test -race -count=1 -timeout 10m ./...'
stage "go test (example)" bash -c 'cd example && go test -race -count=1 -timeout 20m -skip TestBlackBoxClientMatrix ./...'
# dcr-doctor -clients against the built example: every known client and
# every RFC 7591/7592 check with its defaults; then the example set to
# require a scope, which the report must name, with a failing exit status.
stage "dcr-doctor -clients (example)" bash -c 'cd example && go test -race -count=1 -timeout 10m -run TestBlackBoxClientMatrix -v .'
stage "go test (conformance)" bash -c 'cd conformance && go test -race -count=1 -timeout 10m ./...'
stage "go test (softwarestatement)" bash -c 'cd softwarestatement && go test -race -count=1 -timeout 10m ./...'
stage "go test (deploy: Kubernetes manifests)" bash -c 'cd deploy && go test -race -count=1 -timeout 10m ./...'
stage "npm ci (interop)" bash -c 'cd interop/node && npm ci --no-audit --no-fund'
stage "go test (interop)" bash -c 'cd interop && go test -race -count=1 -timeout 10m ./...'

if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAILED stages: %s\n' "${failed[*]}"
	exit 1
fi
echo "all stages passed"
