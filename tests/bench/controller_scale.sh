#!/usr/bin/env bash
# controller_scale.sh - ironlb-controller at scale against kube-sim: for
# 1,000 and 10,000 LoadBalancer Services created as fast as kube-sim takes
# them (16 keep-alive HTTPS clients), the time until every one has an
# address in its status, create-to-status latency (p50/p99, from watch
# event timestamps), the controller's peak RSS (VmHWM) and the memory cost
# per Service; then when the trailing writes (the pool annotation, the
# IPAllocated Event) were all done, the CPU time the controller and kube-sim
# used, and the controller's API requests by verb and code (from its
# /metrics). Prints figures; never judges them. Targets (DESIGN): 10,000
# settled under 10 s, RSS under 32 MiB.
#
#   IRONLB_BUILD=/work/main/build tests/bench/controller_scale.sh [SIZES...]
#
# Uses 127.0.0.1 only; addresses from 2001:db8::/32 (an IPv6 pool and
# IPv6 cluster IPs, so that 10,000 Services fit in documentation ranges).
set -u
cd "$(dirname "$0")/../.."
BUILD=${IRONLB_BUILD:-$PWD/build}
SIM=$BUILD/bin/kube-sim
CTL=$BUILD/bin/ironlb-controller
SIZES=${*:-1000 10000}
TMP=$(mktemp -d /tmp/ironlb-ctl-bench.XXXXXX)
SIM_PID=
CTL_PID=

stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() { stop "$CTL_PID"; stop "$SIM_PID"; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
die() { echo "controller_scale: $*" >&2; exit 1; }
[ -x "$SIM" ] && [ -x "$CTL" ] || die "build first (make)"

export HOME=$TMP/home KUBECONFIG=$TMP/kubeconfig
mkdir -p "$HOME"
k() { timeout 60 kubectl --request-timeout=30s "$@"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

printf '%-8s %10s %12s %9s %9s %9s %10s %10s %12s\n' services create_s all_status_s p50_ms p99_ms max_ms rss_idle rss_peak per_svc_B
for n in $SIZES; do
    rm -f "$KUBECONFIG"
    "$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG" --history 100000 \
        --service-cluster-ip-range 2001:db8:c1::/108 --node-port-range 20000-40000 >"$TMP/sim.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 100); do [ -s "$KUBECONFIG" ] && break; sleep 0.1; done
    [ -s "$KUBECONFIG" ] || die "kube-sim did not start: $(cat "$TMP/sim.log")"
    k apply -f deploy/crds/ >/dev/null && k create namespace ironlb-system >/dev/null &&
        k create namespace scale >/dev/null || die "setup failed"
    cat <<'YAML' | k apply -f - >/dev/null || die "pool"
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: big, namespace: ironlb-system}
spec:
  addresses: ["2001:db8:100::/112"]
YAML
    port=$(free_port)
    "$CTL" --kubeconfig "$KUBECONFIG" --namespace ironlb-system --health-addr "127.0.0.1:$port" \
        --leader-elect=false --log-level=warn ${CTL_FLAGS:-} >"$TMP/ctl.log" 2>&1 &
    CTL_PID=$!
    sleep 1
    idle=$(kib "$CTL_PID" VmRSS)
    ctl_cpu0=$(cpu_s "$CTL_PID") sim_cpu0=$(cpu_s "$SIM_PID")
    out=$(python3 tests/bench/controller_scale.py "$KUBECONFIG" scale "$n" 60)
    peak=$(kib "$CTL_PID" VmHWM)
    settled_rss=$(kib "$CTL_PID" VmRSS)
    ctl_cpu=$(cpu_s "$CTL_PID") sim_cpu=$(cpu_s "$SIM_PID")
    # The controller's API requests by verb (its own metrics), lease and
    # informer traffic included.
    reqs=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" |
        sed -n 's/^ironlb_kube_requests_total{verb="\([A-Z]*\)",code="\([^"]*\)"} \([0-9]*\).*/\1 \2 \3/p' |
        awk '{ n[$1 "/" $2] += $3 } END { for (k in n) printf "%s=%d ", k, n[k] }')
    python3 - "$n" "$idle" "$peak" "$out" "$settled_rss" <<'PY'
import json, sys
n, idle, peak, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
ms = lambda v: "-" if v is None else "%.1f" % (v * 1000)
s = lambda v: "-" if v is None else "%.2f" % v
print("%-8d %10s %12s %9s %9s %9s %8dKi %8dKi %12d" % (n, s(d["created_s"]), s(d["all_settled_s"]),
      ms(d["p50_s"]), ms(d["p99_s"]), ms(d["max_s"]), idle, peak, (peak - idle) * 1024 // n))
print("# RSS once all is written: %d KiB (%d B per Service above idle)" % (int(sys.argv[5]), (int(sys.argv[5]) - idle) * 1024 // n))
print("# trailing writes: all annotated after %s s, all IPAllocated Events after %s s" % (s(d["all_annotated_s"]), s(d["all_events_s"])))
if d["settled"] < n or d["create_errors"]:
    print("# only %d of %d settled within %.0f s; %d create errors" % (d["settled"], n, d["waited_s"], d["create_errors"]))
PY
    echo "# CPU s during the run: controller $(echo "$ctl_cpu $ctl_cpu0" | awk '{printf "%.2f", $1 - $2}')," \
        "kube-sim $(echo "$sim_cpu $sim_cpu0" | awk '{printf "%.2f", $1 - $2}') (machine load: $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "# controller API requests: ${reqs:-unavailable}"
    grep -c 'level=error' "$TMP/ctl.log" | sed 's/^/# controller error lines: /'
    stop "$CTL_PID"; CTL_PID=
    stop "$SIM_PID"; SIM_PID=
done
