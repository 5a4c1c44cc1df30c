#!/bin/bash
# L2 conflicts in the lab: a foreign host (a namespace on the data segment
# that is not a speaker) already holds an address before a Service gets it.
# The elected owner probes first (RFC 5227), hears the foreign answer, and
# reports a conflict instead of fighting over the address: an IPConflict
# Warning Event on the Service, the conflict in `ironlbctl status`, a
# metric, and no gratuitous ARP from any speaker for it.
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh


IP=192.0.2.201

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply
check "objects applied with kubectl" $?

# The foreign host: plain Linux, answering ARP for IP like any host.
lab_add_ns rogue && lab_plug rogue br-data eth0 && lab_exec rogue ip addr add $IP/24 dev eth0
check "a foreign host holds $IP on the data segment" $?
rogue_mac=$(lab_exec rogue cat /sys/class/net/eth0/address)

l2_speakers_start
l2_wait_ready 15
check "every speaker becomes ready" $?

CAP=$LAB_DIR/conflict.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" arp 2>/dev/null &
TCPDUMP=$!
sleep 0.5
l2_service_create clash $IP
owner=$(l2_wait_owner $IP 10)
check "the speakers agree on an owner for $IP ($owner)" $?
[ -n "$owner" ] || finish

conflict=""
for i in $(seq 1 50); do
	conflict=$(l2_ctl "$owner" status --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["addresses"]:
    if a["address"] == sys.argv[1]: print(a.get("conflict", ""))' $IP)
	[ -n "$conflict" ] && break
	sleep 0.1
done
[ "$conflict" = "$rogue_mac" ]
check "ironlbctl status on the owner shows the conflict with the foreign MAC" $? \
	"conflict '$conflict' want '$rogue_mac'"
l2_ctl "$owner" status | grep -q "CONFLICT: $rogue_mac"
check "the human-readable status prints CONFLICT" $?

ev=""
for i in $(seq 1 30); do
	ev=$(lab_kubectl -n default get events -o jsonpath='{range .items[*]}{.type} {.reason} {.involvedObject.kind}/{.involvedObject.name}{"\n"}{end}' 2>/dev/null | grep IPConflict)
	[ -n "$ev" ] && break
	sleep 0.2
done
[ "$(head -1 <<<"$ev")" = "Warning IPConflict Service/clash" ]
check "an IPConflict Warning Event is recorded on the Service" $? "events: $ev"

metrics=$(lab_exec "$owner" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$owner"):7481/metrics")
grep -q '^ironlb_l2_conflicts_total [1-9]' <<<"$metrics"
check "ironlb_l2_conflicts_total counts it" $?

sleep 1
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
probes=$(tshark -r "$CAP" -Y "arp.opcode == 1 && arp.src.proto_ipv4 == 0.0.0.0 && arp.dst.proto_ipv4 == $IP" \
	-T fields -e arp.src.hw_mac 2>/dev/null | sort -u)
[ "$probes" = "$(lab_node_mac "$owner")" ]
check "only the owner probed for $IP (ARP probe, sender IP 0.0.0.0)" $? "probers: $probes"
garps=$(tshark -r "$CAP" -Y "arp.src.proto_ipv4 == $IP && arp.dst.proto_ipv4 == $IP" -T fields \
	-e arp.src.hw_mac 2>/dev/null | grep -vc "^$rogue_mac\$")
[ "$garps" = 0 ]
check "no speaker announced the conflicting address" $? "$garps gratuitous ARPs"
lab_exec client ping -c 1 -W 1 $IP >/dev/null
mac=$(l2_client_neigh $IP)
[ "$mac" = "$rogue_mac" ]
check "the client still resolves $IP to the foreign host" $? "neigh '$mac'"
malformed=$(tshark -r "$CAP" -V 2>/dev/null | grep -c Malformed)
[ "$malformed" = 0 ]
check "tshark finds no malformed frame in the capture" $?
finish
