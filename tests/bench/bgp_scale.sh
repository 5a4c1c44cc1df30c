#!/bin/bash
# bgp_scale.sh - BGP mode at scale in the lab: one node with ironlb-speaker
# and BIRD 2, one FRR router (eBGP, IPv6 prefixes over the IPv4 session),
# kube-sim. N (default 10,000) LoadBalancer Services with an endpoint on
# the node are created without addresses; then their statuses are written
# directly (as the controller would, 16 clients) and the bench times until
# FRR has received all N prefixes; then S (default 25) spare Services get
# an address and lose it again, one change at a time, each timed until FRR
# has the prefix / has lost it (p50/p99 of the adds and of the removals,
# from the status PATCH until bgpd's log stamps the received update:
# FRR's own time, with `debug bgp updates in` for the single changes.
# FRR is polled through vtysh back to back to know when to go on; the
# polled figures, each change midway between the last query that did not
# see it and the first that did, are printed too and replace the logged
# ones should a log line be missing).
# Also prints BIRD reconfigurations (ironlb_speaker_bird_reconfigurations_total)
# during the bulk and the single changes (both should be 0: addresses
# never touch BIRD's configuration), the speaker's and BIRD's RSS and CPU
# time. Prints figures; never judges them.
#
#   IRONLB_BUILD=/work/main/build tests/bench/bgp_scale.sh [N [S]]
#
# BGP_SCALE_HOOK=CMD runs "CMD changes-start" before the single changes
# and "CMD changes-end" after them (e.g. callgrind_control -i on/off, to
# profile the speaker during the changes only).
#
# BGP_SCALE_TRACE=1 prints, every second on stderr, the routes of protocol
# 74 in the node's kernel table, in BIRD's table learned from it and in
# the peer's table, and the prefixes FRR received.
#
# Run as root from the repository root; everything lives in namespaces it
# creates and removes on every exit path.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/bgp.sh
. tests/lab/bgp_speaker.sh

N=${1:-10000}
S=${2:-25}
FRR_ASN=64500
N1=192.0.2.11

die() {
	echo "bgp_scale: $*" >&2
	exit 1
}
for tool in bird birdc vtysh /usr/lib/frr/bgpd /usr/lib/frr/zebra; do
	command -v "$tool" >/dev/null || die "$tool is not installed (tests/deps.sh installs it)"
done
[ -x "$LAB_BIN/ironlb-speaker" ] && [ -x "$LAB_BIN/kube-sim" ] || die "build first (make)"

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat" 2>/dev/null; }
reconf() {
	local ok fail
	ok=$(bs_metric node1 'ironlb_speaker_bird_reconfigurations_total{result="ok"}')
	fail=$(bs_metric node1 'ironlb_speaker_bird_reconfigurations_total{result="failed"}')
	echo "${ok:-0} ${fail:-0}"
}

lab_init
lab_up 1 || die "lab up"
bgp_router_add frr 1 || die "router namespace"
lab_api_start --history $((4 * N + 10000)) --node-port-range 20000-40000 \
	--service-cluster-ip-range 203.0.113.128/25,2001:db8:c1::/108 || die "kube-sim"
l2_objects_apply || die "objects"
lab_kubectl apply -f - >/dev/null <<EOF || die "BGP objects"
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: frr, namespace: $L2_NS}
spec: {myASN: $BS_NODE_ASN, peerASN: $FRR_ASN, peerAddress: 192.0.2.1, holdTime: 3s,
  keepaliveTime: 1s, connectTime: 1s}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: $L2_NS}
spec: {addresses: ["2001:db8:5::/112"], autoAssign: false}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgp, namespace: $L2_NS}
spec: {ipAddressPools: [bgp], communities: ["64500:100"]}
EOF
frr_start frr $FRR_ASN "$N1@$BS_NODE_ASN" both-families || die "FRR"
l2_speaker_start node1 ${BGP_SCALE_SPEAKER_FLAGS:---log-level=warn}
l2_wait_ready 20 || die "speaker not ready"
bgp_wait 5 test -s "$(bs_bird_dir node1)/bird.conf" >/dev/null || die "no BIRD configuration"
bs_bird_start node1
bgp_wait 20 frr_neighbor_up frr $N1 >/dev/null || die "BGP session not established"
# BIRD reads the file itself when it starts: the session may be up before
# the speaker's first `configure` over the control socket, which must not
# fall into the measurement.
bgp_wait 10 bs_status_py node1 'bgp.get("bird") == "up" and bgp["config"]["state"] == "ok"' \
	>/dev/null || die "BIRD's configuration not loaded"
spk=${L2_SPK_PID[node1]}
bird=${BS_BIRD_PID[node1]}

trace() {
	local k b e f
	while sleep 1; do
		k=$(lab_exec node1 ip -6 route show table 74800 proto 74 | grep -c .)
		b=$(bs_birdc node1 show route count table ilb_p0_v6 | grep -o '^[0-9]* of [0-9]* routes')
		e=$(bs_birdc node1 show route count table ilb_peer_0_v6 | grep -o '^[0-9]* of [0-9]* routes')
		f=$(frr_vtysh frr "show bgp ipv6 unicast summary json" | "$BGP_PY" -c '
import json, sys
print(json.load(sys.stdin).get("peers", {}).get("192.0.2.11", {}).get("pfxRcd"))' 2>/dev/null)
		echo "trace $(date +%T) kernel=$k bird_table=[$b] bird_peer_table=[$e] frr=$f" >&2
	done
}
[ -n "${BGP_SCALE_TRACE:-}" ] && { trace & LAB_PIDS+=($!); }

r0=$(reconf)
spk_cpu0=$(cpu_s "$spk") bird_cpu0=$(cpu_s "$bird")
ps=$(frr_pathspace frr)
out=$(BGP_SCALE_FRR_LOG="$LAB_DIR/frr-frr-bgpd.log" lab_exec api "$BGP_PY" tests/bench/bgp_scale.py "$LAB_KUBECONFIG" default node1 $N1 "$N" "$S" \
	$N1 120 "http://$(lab_node_mgmt_addr node1):7481/metrics" ip netns exec "$(lab_ns frr)" vtysh -N "$ps" --config_dir "$(bgp_dir frr)")
r1=$(reconf)
spk_cpu=$(cpu_s "$spk") bird_cpu=$(cpu_s "$bird")
adv=$(bs_metric node1 ironlb_speaker_bgp_prefixes_advertised)

"$BGP_PY" - "$out" "$r0" "$r1" <<'PY'
import json, sys
d = json.loads(sys.argv[1]) if sys.argv[1].strip() else {}
r0, r1 = [list(map(float, s.split())) for s in sys.argv[2:4]]
f = lambda v, m=1: "-" if v is None else "%.1f" % (v * m)
print("%-8s %10s %10s %12s %12s %8s %12s %12s %12s %12s" % ("prefixes", "setup_s", "status_s",
      "in_tables_s", "frr_all_s", "changes", "add_p50_ms", "add_p99_ms", "del_p50_ms", "del_p99_ms"))
print("%-8s %10s %10s %12s %12s %8s %12s %12s %12s %12s" % (d.get("n"), f(d.get("setup_s")),
      f(d.get("status_s")), f(d.get("tables_all_s")), f(d.get("frr_all_s")), "%s+%s" % (d.get("adds"), d.get("dels")),
      f(d.get("add_p50_s"), 1000), f(d.get("add_p99_s"), 1000), f(d.get("del_p50_s"), 1000),
      f(d.get("del_p99_s"), 1000)))
print("# status_s: writing N statuses; in_tables_s / frr_all_s: from the first status write until the\n# speaker's kernel tables / FRR hold all N. FRR received %s of %s prefixes; API errors: %s" % (d.get("frr_received"), d.get("n"),
      d.get("errors")))
print("# add/del latencies from %s (vtysh query: mean %s ms; polled p50 add %s ms, del %s ms)"
      % (d.get("source"), f(d.get("poll_ms")), f(d.get("poll_add_p50_s", d.get("add_p50_s")), 1000),
         f(d.get("poll_del_p50_s", d.get("del_p50_s")), 1000)))
print("# BIRD reconfigurations during the addresses' changes: ok %d, failed %d (target 0)"
      % (r1[0] - r0[0], r1[1] - r0[1]))
PY
echo "# speaker: RSS $(kib "$spk" VmRSS) KiB (peak $(kib "$spk" VmHWM) KiB)," \
	"CPU $(echo "$spk_cpu $spk_cpu0" | awk '{printf "%.2f", $1 - $2}') s;" \
	"BIRD: RSS $(kib "$bird" VmRSS) KiB, CPU $(echo "$bird_cpu $bird_cpu0" | awk '{printf "%.2f", $1 - $2}') s;" \
	"prefixes advertised (metric): ${adv:-?}"
echo "# machine load: $(cut -d' ' -f1-3 /proc/loadavg) (2 shared cores: noisy)"
bs_bird_kill node1
kill "$spk" 2>/dev/null # before kube-sim: no reconnection noise in its log
lab_down
