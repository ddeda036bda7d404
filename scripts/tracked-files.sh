#!/usr/bin/env bash
# Fails when the git repository at $1 (default: this one) tracks a build
# output: an executable file (by mode, scripts aside, or by content: an
# ELF, Mach-O or PE header) or any file over 1 MB outside a testdata/
# directory. Run by .ci/run before the tests; scripts_test.go tests it.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
limit=$((1 << 20))
bad=0
while IFS= read -r -d '' entry; do
	mode=${entry%% *}
	path=${entry#*$'\t'}
	if [ "$mode" = 100755 ] && [[ "$path" != *.sh ]] && [ "$path" != .ci/run ]; then
		echo "tracked executable: $path (mode $mode)"
		bad=1
		continue
	fi
	[ -f "$path" ] || continue
	magic=$(head -c 4 "$path" | od -An -tx1 | tr -d ' \n')
	case "$magic" in
	7f454c46 | cffaedfe | cefaedfe | feedface | feedfacf | 4d5a*)
		echo "tracked binary: $path"
		bad=1
		continue
		;;
	esac
	size=$(wc -c <"$path")
	if [ "$size" -gt "$limit" ] && [[ "/$path" != */testdata/* ]]; then
		echo "tracked file over 1 MB outside testdata/: $path ($size bytes)"
		bad=1
	fi
done < <(git ls-files -s -z | sed -z 's/^\([0-9]*\) [0-9a-f]* [0-9]*\t/\1 \t/')
exit $bad
