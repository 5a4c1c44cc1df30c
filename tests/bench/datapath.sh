#!/bin/bash
# The datapath's cost: the same lab rig (one node, the kube-proxy stand-in
# with two pods, a client on the segment) reached two ways:
#   direct  client -> node address:NodePort 30080 (kube-proxy's DNAT only)
#   steered client -> announced address:80, which ironlb-speaker
#           --datapath=nodeport rewrites to :30080 and back (then the same
#           DNAT)
# For each: TCP connection rate (connect, read the pod's one-line answer,
# close; CONC parallel clients, CONNS connections) and throughput (STREAMS
# parallel TCP streams of MiB each from the pods). Rounds alternate which
# path goes first; the best round of each is compared. Prints the figures and the
# steered/direct ratios (target >= 0.9). Never fails on the figures: the
# machine is shared and the Python client and servers bound both paths.
# Usage: tests/bench/datapath.sh [ROUNDS] (default 3). Needs root.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/kubeproxy.sh

ROUNDS=${1:-3}
CONNS=${CONNS:-2000}
CONC=${CONC:-8}
STREAMS=${STREAMS:-2}
MIB=${MIB:-256}
IP=192.0.2.200

lab_init
lab_up 1 || exit 1
lab_api_start || exit 1
l2_objects_apply && kp_api_service web $IP || exit 1
kp_pods_up node1 && kp_proxy_up node1 &&
	kp_service node1 default/web http tcp - 80 30080 $KP_POD_PORT || exit 1
l2_speakers_start --datapath=nodeport
l2_wait_ready 20 || { echo "speaker not ready" >&2; exit 1; }
l2_wait_owner $IP 10 >/dev/null || { echo "no owner for $IP" >&2; exit 1; }
for i in $(seq 1 50); do
	[[ "$(kp_client_tcp $IP 80 1 0.3)" == node1-pod* ]] && break
	sleep 0.1
done

cat >"$LAB_DIR/dpbench.py" <<'EOF'
# dpbench.py rate|stream HOST PORT N CONC: "rate" makes N connections with
# CONC workers and prints connections per second; "stream" asks CONC
# connections for N MiB each and prints MiB/s.
import asyncio, sys, time

mode, host, port, n, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

async def one():
    r, w = await asyncio.open_connection(host, port)
    line = await r.readline()
    w.close()
    return line.startswith(b"node")

async def rate():
    left, ok = [n], [0]
    async def worker():
        while left[0] > 0:
            left[0] -= 1
            try:
                good = await asyncio.wait_for(one(), 5)
            except Exception:
                good = False
            ok[0] += good
    t = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conc)))
    dt = time.monotonic() - t
    print(f"{ok[0] / dt:.0f} {ok[0]}")

async def stream_one(mib):
    r, w = await asyncio.open_connection(host, port)
    await r.readline()
    w.write(f"bytes {mib << 20}\n".encode())
    await w.drain()
    got = 0
    while True:
        b = await r.read(1 << 20)
        if not b:
            break
        got += len(b)
    w.close()
    return got

async def stream():
    t = time.monotonic()
    got = sum(await asyncio.gather(*(stream_one(n) for _ in range(conc))))
    dt = time.monotonic() - t
    print(f"{got / dt / (1 << 20):.0f} {got >> 20}")

asyncio.run(rate() if mode == "rate" else stream())
EOF

direct_host=$(lab_node_addr node1)
best_rate_d=0 best_rate_s=0 best_tp_d=0 best_tp_s=0
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
for r in $(seq 1 "$ROUNDS"); do
	# Odd rounds measure the direct path first, even rounds the steered one.
	for which in $( ((r % 2)) && echo "d s" || echo "s d"); do
		if [ "$which" = d ]; then
			read -r rd nd < <(lab_exec client python3 "$LAB_DIR/dpbench.py" rate "$direct_host" 30080 "$CONNS" "$CONC")
			read -r td md < <(lab_exec client python3 "$LAB_DIR/dpbench.py" stream "$direct_host" 30080 "$MIB" "$STREAMS")
		else
			read -r rs ns < <(lab_exec client python3 "$LAB_DIR/dpbench.py" rate $IP 80 "$CONNS" "$CONC")
			read -r ts ms < <(lab_exec client python3 "$LAB_DIR/dpbench.py" stream $IP 80 "$MIB" "$STREAMS")
		fi
	done
	printf 'round %d: conn/s direct %s (%s ok) steered %s (%s ok); MiB/s direct %s (%s MiB) steered %s (%s MiB)\n' \
		"$r" "$rd" "$nd" "$rs" "$ns" "$td" "$md" "$ts" "$ms"
	best_rate_d=$(max "${rd:-0}" $best_rate_d)
	best_rate_s=$(max "${rs:-0}" $best_rate_s)
	best_tp_d=$(max "${td:-0}" $best_tp_d)
	best_tp_s=$(max "${ts:-0}" $best_tp_s)
done
pk=$(lab_exec node1 nft list counters table inet ironlb 2>/dev/null | awk '/packets/ {print $2; exit}')
awk -v rd=$best_rate_d -v rs=$best_rate_s -v td=$best_tp_d -v ts=$best_tp_s -v pk="${pk:-?}" \
	-v c=$CONNS -v k=$CONC -v s=$STREAMS -v m=$MIB 'BEGIN {
	printf "datapath (best of rounds; %d connections x %d workers, %d streams x %d MiB; Python client and servers):\n", c, k, s, m
	printf "  connection rate: direct NodePort %d/s, steered %d/s, ratio %.2f\n", rd, rs, rd ? rs / rd : 0
	printf "  throughput:      direct NodePort %d MiB/s, steered %d MiB/s, ratio %.2f\n", td, ts, td ? ts / td : 0
	printf "  (the steered path counted %s packets in table inet ironlb; target ratio >= 0.9)\n", pk
}'
