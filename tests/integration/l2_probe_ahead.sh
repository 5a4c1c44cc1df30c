#!/bin/bash
# Probing ahead, in the lab with the controller: the controller publishes
# each pool's next address (status.nextIPv4/nextIPv6); the speaker that
# would own it probes it before any Service has it, so the Service that
# gets it is announced without probing again. A foreign host holding the
# pool's following address is found ahead too: the speaker lists it in its
# Lease (inUse), the controller skips it (status.skippedIPs) and gives the
# next Service the address after it. The speakers run with
# --probe-ahead-interval 1h, so that no later probing round can fall between
# the Service's creation and its announcement; then they are restarted with
# 1s, the foreign host leaves, a round hears nobody and the controller hands
# the address out again.
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh

X=192.0.2.200 # the pool's first address: the first Service's
Y=192.0.2.201 # the next one, held by a foreign host
Z=192.0.2.202 # the one after it, which the controller gives instead
X6=2001:db8:2::200

bad=$("$LAB_BIN/ironlb-speaker" --probe-ahead-interval 500ms 2>&1)
rc=$?
[ $rc = 2 ] && grep -q -- "--probe-ahead-interval" <<<"$bad"
check "--probe-ahead-interval below 1s is refused, naming the flag (exit $rc)" $? "$bad"
"$LAB_BIN/ironlb-speaker" --help | grep -q -- "--probe-ahead-interval"
check "--help documents --probe-ahead-interval" $?

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply
check "objects applied with kubectl" $?
lab_add_ns rogue && lab_plug rogue br-data eth0 && lab_exec rogue ip addr add $Y/24 dev eth0
check "a foreign host holds $Y on the data segment" $?
rogue_mac=$(lab_exec rogue cat /sys/class/net/eth0/address)

CAP=$LAB_DIR/ahead.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" arp or icmp6 2>/dev/null &
TCPDUMP=$!
lab_spawn node1 controller "$LAB_BIN/ironlb-controller" --kubeconfig "$LAB_KUBECONFIG" \
	--namespace $L2_NS --health-addr "$(lab_node_mgmt_addr node1):7480" >/dev/null
next=""
for i in $(seq 1 50); do
	next=$(lab_kubectl -n $L2_NS get ipaddresspool lab -o jsonpath='{.status.nextIPv4} {.status.nextIPv6}' 2>/dev/null)
	[ "$next" = "$X $X6" ] && break
	sleep 0.1
done
[ "$next" = "$X $X6" ]
check "the controller publishes the pool's next addresses in its status" $? "status: '$next'"

l2_servers_start $X
l2_speakers_start --probe-ahead-interval 1h
l2_wait_ready 15
check "every speaker becomes ready" $?

# ahead_state NODE IP: the state NODE's speaker shows for IP under
# probe_ahead ("" when it does not probe it), then its conflict MAC.
ahead_state() {
	l2_ctl "$1" status --json 2>/dev/null | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("probe_ahead", []):
    if a["address"] == sys.argv[1]: print(a["state"], a.get("conflict", ""))' "$2"
}
# wait_ahead IP STATE: sets PROBER to the one node showing STATE for IP.
wait_ahead() {
	local i nd st
	PROBER=""
	for i in $(seq 1 100); do
		for nd in "${LAB_NODES[@]}"; do
			st=$(ahead_state "$nd" "$1")
			[ "${st%% *}" = "$2" ] && { PROBER=$nd; return 0; }
		done
		sleep 0.1
	done
	return 1
}

wait_ahead $X probed
check "a speaker probes $X ahead and finds it clear ($PROBER)" $?
[ -n "$PROBER" ] || finish
others=""
for nd in "${LAB_NODES[@]}"; do
	[ "$nd" = "$PROBER" ] || others="$others$(ahead_state "$nd" $X)"
done
[ -z "$others" ]
check "no other speaker probes $X" $? "others: $others"
wait_ahead $X6 probed
check "a speaker probes $X6 ahead too (DAD)" $?
l2_ctl "$PROBER" status | grep -A2 "PROBED AHEAD" | grep -Eq "^ +$X +lab +probed +eth0"
check "ironlbctl status lists the address probed ahead, its pool, state and interface" $? \
	"$(l2_ctl "$PROBER" status | grep -A3 "PROBED AHEAD")"
metrics=$(lab_exec "$PROBER" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$PROBER"):7481/metrics")
grep -q '^ironlb_l2_probe_ahead_addresses [1-9]' <<<"$metrics"
check "ironlb_l2_probe_ahead_addresses counts it" $?
grep -q '^ironlb_l2_addresses_owned 0' <<<"$metrics"
check "an address probed ahead is not counted as owned" $?

t_create=$(date +%s.%N)
l2_service_create web
owner=$(l2_wait_owner $X 10)
check "the controller gives $X to the Service; the speakers agree on an owner ($owner)" $?
[ "$owner" = "$PROBER" ]
check "the owner is the speaker that probed it ahead" $? "owner $owner, prober $PROBER"
l2_client_get $X >/dev/null
check "the client reaches $X" $?

# The pool's next address is now Y, which the foreign host answers for.
wait_ahead $Y conflict
check "a speaker probing $Y ahead finds the foreign host ($PROBER)" $?
yprober=$PROBER
[ "$(ahead_state "$yprober" $Y | cut -d' ' -f2)" = "$rogue_mac" ]
check "ironlbctl status shows the foreign MAC for $Y" $?
metrics=$(lab_exec "$yprober" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$yprober"):7481/metrics")
grep -q '^ironlb_l2_probe_ahead_conflicts_total [1-9]' <<<"$metrics"
check "ironlb_l2_probe_ahead_conflicts_total counts it" $?
grep -q "pool's next address is held by a host outside ironlb" "$LAB_DIR/speaker-$yprober.log"
check "the speaker logs the conflict found ahead" $?
pev=""
for i in $(seq 1 30); do
	pev=$(lab_kubectl -n $L2_NS get events -o jsonpath='{range .items[*]}{.type} {.reason} {.involvedObject.kind}/{.involvedObject.name} {.message}{"\n"}{end}' 2>/dev/null | grep NextAddressInUse)
	[ -n "$pev" ] && break
	sleep 0.2
done
grep -q "^Warning NextAddressInUse IPAddressPool/lab address $Y, which this pool hands out next, is held by $rogue_mac" <<<"$pev"
check "a NextAddressInUse Warning Event on the pool names the address and the foreign MAC" $? "events: $pev"

# The prober's Lease tells the controller, which skips Y.
ann=""
for i in $(seq 1 50); do
	ann=$(lab_kubectl -n $L2_NS get lease "speaker-$yprober" -o jsonpath='{.metadata.annotations.ironlb\.io/speaker}' 2>/dev/null)
	grep -qF "\"inUse\":[\"$Y\"]" <<<"$ann" && break
	sleep 0.1
done
grep -qF "\"inUse\":[\"$Y\"]" <<<"$ann"
check "the prober's Lease lists $Y as in use (inUse)" $? "annotation: $ann"
metrics=$(lab_exec "$yprober" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$yprober"):7481/metrics")
grep -q '^ironlb_l2_probe_ahead_in_use_addresses 1$' <<<"$metrics"
check "ironlb_l2_probe_ahead_in_use_addresses counts it" $?
l2_ctl "$yprober" status | grep -E "^ +$Y " | grep -qF "(in use: the Lease asks the controller to skip it)"
check "ironlbctl status says the Lease asks the controller to skip $Y" $? \
	"$(l2_ctl "$yprober" status | grep -A4 "PROBED AHEAD")"
# pool_skip: the pool's skipped addresses, then its next IPv4 address.
pool_skip() {
	lab_kubectl -n $L2_NS get ipaddresspool lab -o jsonpath='{.status.skippedIPs[*]}|{.status.nextIPv4}' 2>/dev/null
}
# wait_skip WANT TIMEOUT_S
wait_skip() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		ps=$(pool_skip)
		[ "$ps" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_skip "$Y|$Z" 5
check "the controller skips $Y: the pool's status names it in skippedIPs, nextIPv4 is $Z" $? "status: '$ps'"
grep -q "a pool's next address is in use outside ironlb: the Lease tells the controller to skip it" \
	"$LAB_DIR/speaker-$yprober.log"
check "the speaker logs that its Lease asks the controller to skip $Y" $?

# svc_ip NAME: the first ingress address of Service default/NAME, waiting
# up to 5 s for one.
svc_ip() {
	local i ip=""
	for i in $(seq 1 50); do
		ip=$(lab_kubectl -n default get svc "$1" -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null)
		[ -n "$ip" ] && break
		sleep 0.1
	done
	echo "$ip"
}
# conflict_events: the IPConflict Events in namespace default, one a line.
conflict_events() {
	lab_kubectl -n default get events -o jsonpath='{range .items[*]}{.type} {.reason} {.involvedObject.kind}/{.involvedObject.name}{"\n"}{end}' 2>/dev/null | grep IPConflict
}

l2_service_create web2
ip2=$(svc_ip web2)
[ "$ip2" = "$Z" ]
check "the controller gives the next Service $Z, not the address in use" $? "got '$ip2'"
owner2=$(l2_wait_owner $Z 10)
check "the speakers agree on an owner of $Z ($owner2)" $?
[ "$(ahead_state "$yprober" $Y | cut -d' ' -f1)" = conflict ]
check "$Y is still probed ahead, in use, though no pool names it next" $? "$(ahead_state "$yprober" $Y)"
sleep 1
ev=$(conflict_events)
[ -z "$ev" ]
check "no Service meets a conflict" $? "events: $ev"

sleep 1
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
owner_mac=$(lab_node_mac "$owner")
# Probes for X: all before the Service existed, all from the owner.
probes=$(tshark -r "$CAP" -Y "arp.opcode == 1 && arp.src.proto_ipv4 == 0.0.0.0 && arp.dst.proto_ipv4 == $X" \
	-T fields -e frame.time_epoch -e arp.src.hw_mac 2>/dev/null)
late=$(awk -v t="$t_create" '$1 >= t' <<<"$probes")
[ "$(wc -l <<<"$probes")" = 3 ] && [ -z "$late" ] &&
	[ "$(awk '{print $2}' <<<"$probes" | sort -u)" = "$owner_mac" ]
check "$X was probed 3 times by its owner, all before the Service was created" $? \
	"created at $t_create; probes (time mac):" "$probes"
garp=$(tshark -r "$CAP" -Y "arp.opcode == 1 && arp.src.proto_ipv4 == $X && arp.dst.proto_ipv4 == $X" \
	-T fields -e frame.time_epoch -e arp.src.hw_mac 2>/dev/null | head -1)
awk -v t="$t_create" -v m="$owner_mac" '$1 > t && $2 == m {ok = 1} END {exit !ok}' <<<"$garp"
check "the owner's first gratuitous ARP for $X follows the Service's creation" $? "first: '$garp'"
ns6=$(tshark -r "$CAP" -Y "icmpv6.type == 135 && ipv6.src == :: && icmpv6.nd.ns.target_address == $X6" \
	-T fields -e eth.src 2>/dev/null | sort -u)
[ -n "$ns6" ] && [ "$(wc -l <<<"$ns6")" = 1 ]
check "one speaker sent DAD probes for $X6" $? "senders: $ns6"
garps=$(tshark -r "$CAP" -Y "arp.src.proto_ipv4 == $Y && arp.dst.proto_ipv4 == $Y" -T fields \
	-e arp.src.hw_mac 2>/dev/null | grep -vc "^$rogue_mac\$")
[ "$garps" = 0 ]
check "no speaker announced $Y" $? "$garps gratuitous ARPs"
malformed=$(tshark -r "$CAP" -V 2>/dev/null | grep -c Malformed)
[ "$malformed" = 0 ]
check "tshark finds no malformed frame in the capture" $?

# Restarted with a round every second, the speakers find Y in use again;
# then the foreign host leaves and a round hears nobody.
for nd in "${LAB_NODES[@]}"; do
	kill "${L2_SPK_PID[$nd]}" 2>/dev/null
done
for i in $(seq 1 50); do
	up=0
	for nd in "${LAB_NODES[@]}"; do l2_running "${L2_SPK_PID[$nd]}" && up=1; done
	[ $up = 0 ] && break
	sleep 0.1
done
l2_speakers_start --probe-ahead-interval 1s
l2_wait_ready 15
check "the speakers restart, probing ahead every second" $?
# The old Leases still list Y until the new speakers write theirs: wait
# for a new process to meet the foreign host itself.
wait_ahead $Y conflict
check "restarted, a speaker probing $Y meets the foreign host again ($PROBER)" $?
# Z went to web2: the address after Y is now .203.
wait_skip "$Y|192.0.2.203" 15
check "the controller skips $Y" $? "status: '$ps'"
lab_exec rogue ip addr del $Y/24 dev eth0
check "the foreign host gives $Y up" $?
wait_skip "|$Y" 15
check "a round hears nobody: the Lease drops $Y, the controller hands it out next again" $? "status: '$ps'"
grep -q "an address found in use ahead is free again" "$LAB_DIR"/speaker-*.log
check "the speaker logs that the address is free again" $?
l2_service_create web3
ip3=$(svc_ip web3)
[ "$ip3" = "$Y" ]
check "the next Service gets $Y" $? "got '$ip3'"
owner3=$(l2_wait_owner $Y 10)
check "a speaker owns $Y ($owner3)" $?
sleep 1
ev=$(conflict_events)
[ -z "$ev" ]
check "still no Service meets a conflict" $? "events: $ev"
finish
