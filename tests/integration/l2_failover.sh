#!/bin/bash
# L2 mode end to end in the lab: three nodes with speakers, kube-sim, and
# the client's own kernel as the ARP/NDP peer. Checks that the speakers
# agree on one owner; that the client's kernel resolves the address to the
# owner's MAC and a TCP connection lands on the owner; the gratuitous ARP
# and unsolicited NA on the wire, field by field; that non-owners never
# answer; that malformed frames from the client leave the owner answering;
# and that after SIGKILL of the owner's speaker the election's next node
# takes over and the client reaches it within a second.
#
# Run as root from the repository root with IRONLB_BUILD set. Everything
# lives in namespaces this script creates and removes on every exit path.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh


IP4=192.0.2.200
IP6=2001:db8:2::200

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && l2_service_create web $IP4 $IP6
check "objects applied with kubectl (CRDs, Nodes, pool, L2Advertisement, Service, EndpointSlice)" $?
l2_servers_start $IP4 $IP6

CAP=$LAB_DIR/start.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" 'arp or icmp6' 2>/dev/null &
TCPDUMP=$!
sleep 0.5

l2_speakers_start
l2_wait_ready 15
check "every speaker becomes ready" $?

# The lab's speakers run with --datapath=off (the default) and find no
# table of an earlier run: libnftables is never loaded (speaker/nft_dl.c).
maps=$(grep -l libnftables /proc/"${L2_SPK_PID[node1]}"/maps /proc/"${L2_SPK_PID[node2]}"/maps \
	/proc/"${L2_SPK_PID[node3]}"/maps 2>&1)
[ -z "$maps" ]
check "with --datapath=off and nothing to clean up, no speaker maps libnftables" $? "$maps"

owner=$(l2_wait_owner $IP4 10)
check "the three speakers agree on the owner of $IP4 ($owner)" $? "owner=$owner"
owner6=$(l2_wait_owner $IP6 10)
check "the three speakers agree on the owner of $IP6 ($owner6)" $?
[ -n "$owner" ] || finish
owner_mac=$(lab_node_mac "$owner")
owner6_mac=$(lab_node_mac "$owner6")

# Nothing changes now: passes come only when a time-based input does (a
# peer's Lease going stale, at the latest 10 s apart), not with each Lease
# renewal (3 speakers, every 2 s) nor on a fixed short period.
passes() {
	lab_exec node1 curl -fsS -m 2 "http://$(lab_node_mgmt_addr node1):7481/metrics" |
		awk '$1 == "ironlb_speaker_reconcile_duration_seconds_count" {print $2}'
}
p0=$(passes)
sleep 6
p1=$(passes)
[ -n "$p0" ] && [ -n "$p1" ] && [ $((${p1%.*} - ${p0%.*})) -le 3 ]
check "an idle speaker runs at most 3 reconcile passes in 6 s ($p0 -> $p1)" $?

# The backup the election names next: the node that calls itself backup #1.
next=""
for nd in "${LAB_NODES[@]}"; do
	role=$(l2_ctl "$nd" status --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["addresses"]:
    if a["address"] == sys.argv[1]: print(a["role"])' $IP4)
	[ "$role" = "backup #1" ] && next=$nd
done
[ -n "$next" ]
check "one node reports itself as backup #1 ($next)" $?

got=$(l2_client_get $IP4 2)
[ "$got" = "$owner" ]
check "a TCP connection from the client to $IP4 lands on the owner" $? "got '$got', owner $owner"
mac=$(l2_client_neigh $IP4)
[ "$mac" = "$owner_mac" ]
check "the client's kernel resolved $IP4 to the owner's MAC ($owner_mac)" $? "neigh '$mac'"
got=$(l2_client_get $IP6 2)
[ "$got" = "$owner6" ]
check "a TCP connection from the client to $IP6 lands on its owner" $? "got '$got', owner $owner6"
mac=$(l2_client_neigh $IP6)
[ "$mac" = "$owner6_mac" ]
check "the client's kernel resolved $IP6 to its owner's MAC" $? "neigh '$mac'"

# Give the announcement burst time to finish (3 x 250 ms), then read the capture.
sleep 1
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null

garp=$(tshark -r "$CAP" -Y "arp.opcode == 1 && arp.src.proto_ipv4 == $IP4 && arp.dst.proto_ipv4 == $IP4" \
	-T fields -e eth.dst -e eth.type -e arp.opcode -e arp.src.hw_mac -e arp.src.proto_ipv4 \
	-e arp.dst.proto_ipv4 -e eth.src 2>/dev/null)
first=$(head -1 <<<"$garp")
expect="ff:ff:ff:ff:ff:ff	0x0806	1	$owner_mac	$IP4	$IP4	$owner_mac"
[ "$first" = "$expect" ]
check "gratuitous ARP: broadcast, ethertype 0x0806, opcode 1, sender IP = target IP = $IP4, sender MAC = owner MAC" $? \
	"got '$first'" "want '$expect'"
others=$(grep -vc "	$owner_mac	$IP4	$IP4	$owner_mac\$" <<<"$garp")
cnt=$(grep -c . <<<"$garp")
[ "$cnt" -ge 1 ] && [ "$others" = 0 ]
check "only the owner sent gratuitous ARPs for $IP4 ($cnt frames)" $? "others=$others"

na=$(tshark -r "$CAP" -Y "icmpv6.type == 136 && icmpv6.nd.na.target_address == $IP6 && ipv6.dst == ff02::1" \
	-T fields -e icmpv6.type -e icmpv6.nd.na.flag.o -e icmpv6.nd.na.flag.s \
	-e icmpv6.nd.na.target_address -e icmpv6.opt.linkaddr -e eth.src 2>/dev/null | head -1)
expect="136	1	0	$IP6	$owner6_mac	$owner6_mac"
[ "$na" = "$expect" ]
check "unsolicited NA: type 136, O set, S clear, target $IP6, TLLA = owner MAC, to all-nodes" $? \
	"got '$na'" "want '$expect'"

replies=$(tshark -r "$CAP" -Y "arp.opcode == 2 && arp.src.proto_ipv4 == $IP4" -T fields \
	-e arp.src.hw_mac 2>/dev/null | sort | uniq -c)
bad=$(grep -vc " $owner_mac\$" <<<"$replies")
[ "$bad" = 0 ]
check "no node but the owner answered ARP for $IP4" $? "$replies"
nas=$(tshark -r "$CAP" -Y "icmpv6.type == 136 && icmpv6.nd.na.target_address == $IP6" -T fields \
	-e eth.src 2>/dev/null | sort -u)
[ "$nas" = "$owner6_mac" ]
check "no node but the owner sent Neighbor Advertisements for $IP6" $? "$nas"
malformed=$(tshark -r "$CAP" -V 2>/dev/null | grep -c Malformed)
[ "$malformed" = 0 ]
check "tshark finds no malformed frame in the capture" $? "$malformed"

# Malformed frames from the client: truncated, wrong hardware length,
# oversize; then the owner must still answer a fresh ARP request.
lab_exec client python3 - "$IP4" <<'EOF'
import socket, struct, sys
ip = socket.inet_aton(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = s.getsockname()[4]
eth = b"\xff" * 6 + mac + b"\x08\x06"
good = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton("192.0.2.100") + b"\0" * 6 + ip
frames = [
    eth + good[:10],                                   # truncated
    eth + struct.pack("!HHBBH", 1, 0x0800, 8, 4, 1) + mac + b"\0\0" + good[14:],  # hlen 8
    eth + struct.pack("!HHBBH", 1, 0x0800, 6, 16, 1) + good[8:],                  # plen 16
    eth + good + b"\xaa" * 1400,                       # oversize
    eth[:6] + mac + b"\x86\xdd" + b"\x60" + b"\0" * 30,    # truncated IPv6
]
for f in frames * 20:
    s.send(f)
EOF
sleep 0.3
lab_exec client ip neigh flush dev eth0
got=$(l2_client_get $IP4 2)
mac=$(l2_client_neigh $IP4)
l2_running "${L2_SPK_PID[$owner]}" && [ "$got" = "$owner" ] && [ "$mac" = "$owner_mac" ]
check "after 100 malformed frames the owner's speaker still runs and answers ARP" $? \
	"got '$got' mac '$mac'"

# Failover: SIGKILL the owner's speaker; the client must reach the next node.
lab_exec client ping -c 1 -W 1 $IP4 >/dev/null
start=$(date +%s%N)
kill -KILL "${L2_SPK_PID[$owner]}"
unset "L2_SPK_PID[$owner]"
got=""
for i in $(seq 1 50); do
	got=$(l2_client_get $IP4 0.2)
	[ -n "$got" ] && [ "$got" != "$owner" ] && break
	sleep 0.05
done
ms=$((($(date +%s%N) - start) / 1000000))
[ "$got" = "$next" ]
check "after SIGKILL of $owner's speaker the client reaches the next node $next (${ms} ms)" $? "got '$got'"
[ "$ms" -lt 2000 ]
check "failover completes in under 2 s without touching the client's neighbour table (${ms} ms)" $?
survivors=()
for nd in "${LAB_NODES[@]}"; do [ "$nd" != "$owner" ] && survivors+=("$nd"); done
o=$(l2_wait_owner $IP4 5 "${survivors[@]}")
[ "$o" = "$next" ]
check "the surviving speakers agree that $next owns $IP4" $? "owner '$o'"
mac=$(l2_client_neigh $IP4)
[ "$mac" = "$(lab_node_mac "$next")" ]
check "the client's neighbour entry for $IP4 now names $next's MAC" $? "neigh '$mac'"

metrics=$(lab_exec "$next" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$next"):7481/metrics")
grep -q '^ironlb_l2_failovers_total [1-9]' <<<"$metrics" &&
	grep -q '^ironlb_l2_addresses_owned [1-9]' <<<"$metrics" &&
	grep -q '^ironlb_heartbeats_received_total [1-9]' <<<"$metrics"
check "the new owner's metrics count the failover, owned addresses and heartbeats" $? \
	"$(grep -E '^ironlb_(l2|heartbeat|peers)' <<<"$metrics" | tr '\n' ' ')"

# SIGTERM: exit 0 within a second, and peers see it leave at once.
pid=${L2_SPK_PID[$next]}
start=$(date +%s%N)
kill -TERM "$pid"
for i in $(seq 1 40); do l2_running "$pid" || break; sleep 0.02; done
ms=$((($(date +%s%N) - start) / 1000000))
! l2_running "$pid" && [ "$ms" -le 1000 ]
check "a speaker exits within 1 s of SIGTERM (${ms} ms)" $?
finish
