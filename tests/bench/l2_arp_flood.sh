#!/bin/bash
# ARP answers per second under a flood of requests, the speaker against the
# kernel, in the lab: one node (L2_FLOOD_NODES to change) whose speaker owns
# a LoadBalancer address. From the client, tests/tools/arpflood sends
# 200,000 broadcast ARP requests as fast as it can (bounded to 20 s), then
# 50,000 at 10,000/s, for
#
#   - the LoadBalancer address, answered by the speaker (a packet socket
#     whose BPF filter passes only ARP about claimed addresses, a 4 MiB
#     receive buffer, up to 64 frames read per wakeup, one thread), and
#   - node1's own address 192.0.2.11, answered by node1's kernel (the
#     speaker's filter keeps these requests in the kernel),
#
# counting the replies that come back. Prints both rates and their ratio,
# the speaker's CPU time during each flood (/proc/PID/stat) and the
# machine's softirq time (where the kernel's answers are made). On the
# lab's veths the kernel answers inside the client's own send call, while
# each request for the speaker must wake a process that shares the 2 cores
# with the client: the client sends faster in the kernel's run, so compare
# the answered shares as well as the rates. Then checks
# that the speaker still answers correctly after the floods. Figures are
# noisy: the machine has 2 cores, shared. Never fails on rates.
# Usage: tests/bench/l2_arp_flood.sh [COUNT] (default 200000). Needs root.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/lab/lab.sh
. tests/lab/l2.sh

COUNT=${1:-200000}
PACED=50000
RATE=10000
IP=192.0.2.200
KIP=192.0.2.11
ARPFLOOD=${ARPFLOOD:-$LAB_BIN/../asan/tools/arpflood}

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
softirq_ticks() { awk '$1 == "cpu" {print $8}' /proc/stat; }
field() { sed -En "s/(^|.* )$1=([^ ]*).*/\2/p" <<<"$2"; }

lab_init
# The tool from `make tools`, else built here (it needs only libc).
if [ ! -x "$ARPFLOOD" ]; then
	ARPFLOOD=$LAB_DIR/arpflood
	cc -std=gnu11 -D_GNU_SOURCE -O2 -o "$ARPFLOOD" tests/tools/arpflood.c || exit 1
fi
lab_up "${L2_FLOOD_NODES:-1}" || exit 1
lab_api_start || exit 1
l2_objects_apply && l2_service_create web $IP || exit 1
l2_speakers_start --log-level=warn
l2_wait_ready 20 || {
	echo "speakers not ready" >&2
	exit 1
}
owner=$(l2_wait_owner $IP 10) || {
	echo "no agreed owner for $IP" >&2
	exit 1
}
pid=${L2_SPK_PID[$owner]}
owner_mac=$(lab_node_mac "$owner")
sleep 1.5 # the first claim's probes and burst are over

# flood LABEL TARGET ARPFLOOD-ARGS...: one line of figures.
flood() {
	local label=$1 target=$2 out c0 c1 s0 s1 sent rep
	shift 2
	c0=$(cpu_ticks "$pid")
	s0=$(softirq_ticks)
	out=$(lab_exec client "$ARPFLOOD" eth0 "$target" "$@" --linger 1000)
	c1=$(cpu_ticks "$pid")
	s1=$(softirq_ticks)
	sent=$(field sent "$out")
	rep=$(field replies "$out")
	printf '  %-22s %8s sent %8s/s  %8s answered %8s/s (%5.1f%%)  speaker cpu %5d ms  softirq %5d ms\n' \
		"$label" "$sent" "$(field requests_per_s "$out")" "$rep" "$(field replies_per_s "$out")" \
		"$(awk -v r="$rep" -v s="$sent" 'BEGIN {print s ? 100 * r / s : 0}')" \
		$(((c1 - c0) * 1000 / hz)) $(((s1 - s0) * 1000 / hz))
	echo "$out" >>"$LAB_DIR/floods"
	eval "RATE_$(tr -c 'a-z0-9\n' _ <<<"$label" | tr -d '\n')=$(field replies_per_s "$out")"
}

echo "l2 ARP flood from the client ($(ip netns exec "$(lab_ns client)" nproc) cores shared; noisy figures)"
echo "  the speaker on $owner answers $IP; node1's kernel answers $KIP"
flood "speaker, max rate" $IP --count "$COUNT" --timeout 20
flood "kernel, max rate" $KIP --count "$COUNT" --timeout 20
flood "speaker, ${RATE}/s" $IP --count $PACED --rate $RATE --timeout 20
flood "kernel, ${RATE}/s" $KIP --count $PACED --rate $RATE --timeout 20
awk -v s="${RATE_speaker__max_rate:-0}" -v k="${RATE_kernel__max_rate:-0}" 'BEGIN {
	printf "  answers per second at max rate: speaker %d, kernel %d, speaker/kernel %.2f\n", s, k, k ? s / k : 0 }'

# Afterwards the speaker still runs and answers, from its own MAC only.
after=$(lab_exec client "$ARPFLOOD" eth0 $IP --count 20 --rate 100 --linger 300)
ok=no
l2_running "$pid" && [ "$(field macs "$after")" = "$owner_mac/20" ] && ok=yes
echo "  after the floods the speaker answers 20/20 requests from $owner's MAC: $ok ($(field macs "$after"))"
answered=$(lab_exec "$owner" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$owner"):7481/metrics" |
	awk '$1 == "ironlb_l2_arp_answered_total" {print $2}')
echo "  ironlb_l2_arp_answered_total on $owner: ${answered:-?}; RSS $(awk '/^VmRSS/ {print $2, $3}' "/proc/$pid/status")"
