#!/usr/bin/env bash
# Mutation testing of the packages whose behaviour the tests must pin: the
# root package (the handler), authlete/, policy/, lifecycle/ and doctor/ It runs gremlins
# (pinned) over each and prints the efficacy: the share of mutants that a
# test kills. Not part of CI: it takes about an hour on 2 cores. The
# mutants that survive and why they change nothing observable are listed in
# scripts/mutation-survivors.md.
#
#   bash scripts/mutation.sh            # all five packages
#   bash scripts/mutation.sh ./policy   # one
set -uo pipefail
cd "$(dirname "$0")/.."

gremlins=github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
export GOFLAGS=-count=1 # never a cached test result for a mutant
out=${MUTATION_OUT:-$(mktemp -d)}
mkdir -p "$out"
# The root package's path covers the whole module: mutate only its own files.
subdirs='^(authlete|authletetest|policy|lifecycle|doctor|dcrtest|iat|internal|softwarestatement|conformance|example|cmd|interop|scripts|testdata|docs)/'

status=0
for pkg in "${@:-. ./authlete ./policy ./lifecycle ./doctor}"; do
	name=$(basename "$(realpath "$pkg")")
	args=(unleash --workers 1 --test-cpu 2 --timeout-coefficient 20
		--invert-logical --invert-loopctrl --invert-assignments --remove-self-assignments
		--output "$out/$name.json")
	[ "$pkg" = "." ] && args+=(--exclude-files "$subdirs")
	echo "=== $pkg"
	go run "$gremlins" "${args[@]}" "$pkg" 2>&1 | grep -E 'LIVED|TIMED OUT|Killed:|Efficacy|Mutator coverage|ERROR' || status=1
done
echo "results: $out"
exit $status
