# Shared helpers of the kube_client_*.sh integration tests (sourced, not
# run: this file is not executable, so tests/run.sh skips it).
#
# Gives: $TMP (removed on exit), TAP output (ok / not_ok / check / finish),
# kube-sim start and stop on 127.0.0.1 (start_sim, stop_sim; $KC is its
# kubeconfig, $PORT its port), kt (kubetool against it), kt_bg (kubetool in
# the background, output in $TMP/NAME.out), bounded waits (wait_for,
# wait_line) and a cleanup trap that kills every process started here.

BUILD=${IRONLB_BUILD:-$PWD/build}
SIM=$BUILD/bin/kube-sim
KT=$BUILD/asan/tools/kubetool
TMP=$(mktemp -d /tmp/kube-client.XXXXXX)
KC=$TMP/kubeconfig
SIM_PID=
PIDS=()
N=0
FAILED=0
# LeakSanitizer reports at exit: a leak makes kubetool exit non-zero, which
# the tests check for processes that end cleanly.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

cleanup() {
	local p
	for p in "${PIDS[@]}" $SIM_PID; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}" $SIM_PID; do
		wait "$p" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() {
	N=$((N + 1))
	echo "ok $N - $1"
}

# not_ok DESC [DETAIL...]: details are shown as TAP comments.
not_ok() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | tail -n 30 | head -c 3000 | sed 's/^/#   /'; done
}

# check DESC CMD...: ok when CMD succeeds; its output is shown on failure.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}

finish() {
	echo "1..$N"
	[ "$FAILED" -eq 0 ]
	exit $?
}

bail() {
	not_ok "$1" "${2:-}"
	finish
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

# wait_line SECONDS FILE REGEX: waits for a line matching REGEX in FILE.
wait_line() {
	wait_for "$1" grep -qE -- "$3" "$2"
}

# start_sim PORT [kube-sim flags]: starts kube-sim, waits for its kubeconfig.
start_sim() {
	local port=$1 i
	shift
	rm -f "$KC"
	"$SIM" --listen "127.0.0.1:$port" --kubeconfig-out "$KC" --bookmark-interval 1s "$@" \
		>>"$TMP/sim.log" 2>&1 &
	SIM_PID=$!
	for i in $(seq 1 100); do
		[ -s "$KC" ] && break
		kill -0 "$SIM_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	[ -s "$KC" ] || return 1
	SERVER=$(awk '/server:/ {print $2}' "$KC")
	PORT=${SERVER##*:}
}

# stop_sim SIGNAL
stop_sim() {
	[ -n "$SIM_PID" ] || return 0
	kill "-$1" "$SIM_PID" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=
}

# kt ARGS...: kubetool against kube-sim, bounded in time.
kt() {
	timeout 60 "$KT" --kubeconfig "$KC" "$@"
}

# kt_bg NAME ARGS...: kubetool in the background; output in $TMP/NAME.out,
# pid in $LAST_PID.
kt_bg() {
	local name=$1
	shift
	"$KT" --kubeconfig "$KC" "$@" >"$TMP/$name.out" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# stop_bg PID [SIGNAL]: signals a background process and waits for it
# (bounded); returns its exit status (137 if it had to be killed).
stop_bg() {
	local pid=$1 sig=${2:-TERM}
	kill "-$sig" "$pid" 2>/dev/null
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# fault JSON: POST /sim/v1/faults.
fault() {
	kt raw POST /sim/v1/faults "$1" >"$TMP/fault.out" 2>&1
}

# svc_json NAME [LABELS-JSON]: a small ClusterIP Service.
svc_json() {
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","labels":%s},"spec":{"ports":[{"port":80}]}}' \
		"$1" "${2:-{\}}"
}

need_binaries() {
	[ -x "$SIM" ] || bail "kube-sim is built ($SIM)" "run make kube-sim"
	[ -x "$KT" ] || bail "kubetool is built ($KT)" "run make tools"
}
