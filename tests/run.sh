#!/bin/bash
# Runs every test and prints one closing line "N passed, N failed".
#   unit:        build/asan/unit/test_* (cmocka, ASan+UBSan+LSan), TAP output
#   integration: tests/integration/*.sh, TAP output, run as root
#   fuzz:        build/fuzz/fuzz_* for FUZZ_SECONDS each (default 5)
# Usage: tests/run.sh [--only unit|integration|fuzz] [--filter SUBSTRING]
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export IRONLB_BUILD=$ROOT/build
only=""
filter=""
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=$2; shift 2 ;;
	--filter) filter=$2; shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

passed=0
failed=0
failures=()
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"

# Counts TAP lines of one test program's output; a program that exits
# non-zero without reporting a failure counts as one failure itself.
count_tap() {
	local name=$1 log=$2 rc=$3 p f
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name reported no test" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
		echo "FAIL $name ($p passed, $f failed; log: ${log#$ROOT/})"
		grep -E '^not ok|^# ' "$log" | head -n 20 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed)"
	fi
}

want() { [ -z "$filter" ] || [[ "$1" == *"$filter"* ]]; }

if [ -z "$only" ] || [ "$only" = unit ]; then
	export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	export CMOCKA_MESSAGE_OUTPUT=TAP
	for t in build/asan/unit/test_*; do
		[ -x "$t" ] || continue
		name=unit/$(basename "$t")
		want "$name" || continue
		log=$LOGDIR/$(basename "$t").log
		timeout 300 "$t" >"$log" 2>&1
		count_tap "$name" "$log" $?
	done
fi

if { [ -z "$only" ] || [ "$only" = unit ]; } && [ -f tests/kube-sim/go.mod ] && want unit/kube-sim; then
	# kube-sim's own Go unit tests, with the Makefile's offline Go setup.
	log=$LOGDIR/kube-sim-go-test.log
	(cd tests/kube-sim && GOFLAGS=-buildvcs=false GOCACHE=$ROOT/build/gocache \
		GOPATH=$ROOT/build/gopath GOPROXY=off timeout 600 go test ./... >"$log" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok 1 - kube-sim go test" >>"$log"
	else
		echo "not ok 1 - kube-sim go test" >>"$log"
	fi
	count_tap unit/kube-sim "$log" $rc
fi

if [ -z "$only" ] || [ "$only" = integration ]; then
	for t in tests/integration/*.sh; do
		[ -x "$t" ] || continue
		name=integration/$(basename "$t" .sh)
		want "$name" || continue
		log=$LOGDIR/$(basename "$t" .sh).log
		timeout 900 "$t" >"$log" 2>&1
		count_tap "$name" "$log" $?
	done
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
	secs=${FUZZ_SECONDS:-5}
	for t in build/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		name=fuzz/$(basename "$t")
		want "$name" || continue
		log=$LOGDIR/$(basename "$t").log
		corpus=tests/fuzz/corpus/$(basename "$t")
		work=$(mktemp -d)
		args=("$work")
		[ -d "$corpus" ] && args+=("$corpus")
		timeout $((secs + 60)) "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$LOGDIR/$(basename "$t")-" "${args[@]}" >"$log" 2>&1
		rc=$?
		rm -rf "$work"
		if [ $rc -eq 0 ]; then
			echo "ok 1 - $name ran ${secs}s without a crash" >>"$log"
		else
			echo "not ok 1 - $name crashed (artifact in $LOGDIR)" >>"$log"
		fi
		count_tap "$name" "$log" $rc
	done
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
