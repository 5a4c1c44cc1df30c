#!/bin/bash
# Runs every benchmark in tests/bench/*.sh. Benchmarks print figures; they
# never pass or fail on time.
set -uo pipefail
cd "$(dirname "$0")/../.."
export IRONLB_BUILD=$PWD/build
rc=0
for b in tests/bench/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	[ -x "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	"$b" || { echo "benchmark $(basename "$b") failed to run" >&2; rc=1; }
	echo
done
exit $rc
