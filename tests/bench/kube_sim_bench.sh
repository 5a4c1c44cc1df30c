#!/usr/bin/env bash
# kube_sim_bench.sh - measure kube-sim: request rates and latencies of small
# GETs, creates, patches and lists over HTTPS with keep-alive (HTTP/1.1 and
# HTTP/2), watch event delivery, and memory with 10,000 Services.
#
# It prints figures and never judges them (exit status 0 unless something
# could not run). Uses only 127.0.0.1; every phase is bounded in time.
#
#   IRONLB_BUILD=/work/main/build tests/bench/kube_sim_bench.sh
#
# Environment: KUBE_SIM_BENCH_SECONDS (per phase, default 4),
# KUBE_SIM_BENCH_CONCURRENCY (default 16).
set -u

BUILD=${IRONLB_BUILD:-$PWD/build}
SIM=$BUILD/bin/kube-sim
LOAD=$BUILD/bin/kube-sim-load
SECS=${KUBE_SIM_BENCH_SECONDS:-4}
CONC=${KUBE_SIM_BENCH_CONCURRENCY:-16}
TMP=$(mktemp -d /tmp/kube-sim-bench.XXXXXX)
SIM_PID=

cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() { echo "kube_sim_bench: $*" >&2; exit 1; }

[ -x "$SIM" ] || die "$SIM not found: build kube-sim first (docs/kube-sim.md)"
if [ ! -x "$LOAD" ]; then
    # Fall back to building the load generator privately.
    src=$(cd "$(dirname "$0")" && pwd)/kube-sim-load
    command -v go >/dev/null || die "$LOAD not found and no Go toolchain to build it"
    (cd "$src" && GOFLAGS=-buildvcs=false GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GOPROXY=off go build -o "$TMP/kube-sim-load" .) ||
        die "building the load generator failed"
    LOAD=$TMP/kube-sim-load
fi

start_sim() {
    rm -f "$TMP/kubeconfig"
    "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$TMP/kubeconfig" "$@" >"$TMP/sim.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$TMP/kubeconfig" ] && return 0
        kill -0 "$SIM_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/sim.log" >&2
    die "kube-sim did not start"
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$SIM_PID/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$SIM_PID/stat"; }

echo "# kube-sim benchmark: $(nproc) cores, $SECS s per phase, concurrency $CONC, HTTPS to 127.0.0.1"
echo "# The load generator runs on the same machine and shares its cores."
echo "# server-CPU/req is kube-sim's own CPU time per request."

start_sim
echo "# kube-sim pid $SIM_PID, RSS at start $(rss)"
for mode in get create create-svc update list; do
    t0=$(cpu_ticks)
    out=$("$LOAD" --kubeconfig "$TMP/kubeconfig" --modes "$mode" --duration "${SECS}s" --concurrency "$CONC") || die "load generator failed: $out"
    t1=$(cpu_ticks)
    n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
    per=""
    [ -n "$n" ] && [ "$n" -gt 0 ] && per=$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "  server-CPU/req=%.0fus", t/hz*1e6/n}')
    echo "$out$per"
done
echo "# RSS after the create phases: $(rss)"
out=$("$LOAD" --kubeconfig "$TMP/kubeconfig" --modes get --duration "${SECS}s" --concurrency "$CONC" --http2) || die "$out"
echo "$out (one multiplexed HTTP/2 connection)"
"$LOAD" --kubeconfig "$TMP/kubeconfig" --modes watch --duration "${SECS}s" --watchers 4 || die "watch phase failed"
"$LOAD" --kubeconfig "$TMP/kubeconfig" --modes watch --duration "${SECS}s" --watchers 32 || die "watch phase failed"
stop_sim

# Memory with 10,000 Services (IPv6 single-stack so the /112 range has room)
# and several open watches.
start_sim
base=$(rss)
"$LOAD" --kubeconfig "$TMP/kubeconfig" --modes create-svc --requests 10000 --duration 60s --concurrency "$CONC" >"$TMP/fill.out" || die "$(cat "$TMP/fill.out")"
echo "$(cat "$TMP/fill.out")   (10,000 Services)"
CURL_AUTH=(-H "Authorization: Bearer $(awk '/token:/ {print $2}' "$TMP/kubeconfig")")
awk '/certificate-authority-data:/ {print $2}' "$TMP/kubeconfig" | base64 -d >"$TMP/ca.crt"
SERVER=$(awk '/server:/ {print $2}' "$TMP/kubeconfig")
t0=$(date +%s%N)
code=$(curl -sS --max-time 60 --cacert "$TMP/ca.crt" "${CURL_AUTH[@]}" -o "$TMP/list.json" -w '%{http_code}' "$SERVER/api/v1/services")
t1=$(date +%s%N)
echo "LIST all services      HTTP $code, $(stat -c %s "$TMP/list.json") bytes in $(((t1 - t0) / 1000000)) ms"
WPIDS=()
for i in 1 2 3 4 5; do
    curl -sS -N --max-time 60 --cacert "$TMP/ca.crt" "${CURL_AUTH[@]}" -o "$TMP/watch$i" "$SERVER/api/v1/services?watch=1" &
    WPIDS+=($!)
done
sleep 2
echo "# RSS: $base at start, $(rss) with 10,000 Services and 5 watches (each sent $(grep -c ADDED "$TMP/watch1") initial events)"
for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
stop_sim
exit 0
