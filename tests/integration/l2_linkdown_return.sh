#!/bin/bash
# A node whose data link was down for longer than a Lease renewal comes
# back, in the lab: three nodes with speakers, heartbeats over the data
# segment, one address owned by node X and others owned by the other
# nodes; X's link fails twice, set down inside the node and then by its
# cable pulled (carrier lost, eth0 still up). While X's link is down X hears no heartbeat and takes every peer
# for dead, but no usable link of its holds the addresses: it claims none,
# and its Lease, renewed over the management network, publishes no data
# subnet (and still names its eth0 MAC). When the link comes back X forgets
# what it concluded of its peers (their Leases decide until their next
# heartbeats arrive), so:
#
#   - X does not announce the addresses the other nodes own;
#   - X's frames are not taken by the other speakers as a foreign host's
#     (its Lease kept naming its eth0 MAC), so no conflict is reported and
#     nothing is withdrawn;
#   - the client keeps reaching every address at its owner.
#
# See "Link failures" in docs/l2.md. Run as root from the repository root
# with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh

ADDRS=(192.0.2.200 192.0.2.204 192.0.2.205 192.0.2.206 192.0.2.207)

metric() { # metric NODE NAME
	lab_exec "$1" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$1"):7481/metrics" |
		awk -v m="$2" '$1 == m {print $2}'
}

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
ok=0
l2_objects_apply || ok=1
for i in "${!ADDRS[@]}"; do l2_service_create "web$i" "${ADDRS[$i]}" || ok=1; done
check "objects applied with kubectl (${#ADDRS[@]} Services)" $ok
l2_servers_start "${ADDRS[@]}"
CAP=$LAB_DIR/return.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" arp 2>/dev/null &
TCPDUMP=$!
l2_speakers_start
l2_wait_ready 15
check "every speaker becomes ready" $?

declare -A OWNER
for a in "${ADDRS[@]}"; do OWNER[$a]=$(l2_wait_owner "$a" 10); done
x=${OWNER[${ADDRS[0]}]}
foreign=()
for a in "${ADDRS[@]}"; do
	[ -n "${OWNER[$a]}" ] && [ "${OWNER[$a]}" != "$x" ] && foreign+=("$a")
done
[ -n "$x" ] && [ ${#foreign[@]} -gt 0 ]
check "$x owns ${ADDRS[0]}; other nodes own ${foreign[*]}" $?
[ ${#foreign[@]} -gt 0 ] || finish
x_mac=$(lab_node_mac "$x")

# The switch-side port of X's eth0: eth0@ifN names its peer's ifindex.
peer_if=$(lab_exec "$x" ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
sw_port=$(lab_exec sw ip -o link show | awk -F': ' -v i="$peer_if" '$1 == i {sub(/@.*/, "", $2); print $2}')

# Twice: X's eth0 set down inside the node, then X's cable pulled (switch
# port down: eth0 stays up without carrier).
for how in node switch; do
	if [ "$how" = node ]; then
		what="[$x's eth0 down]"
		lab_exec "$x" ip link set eth0 down
	else
		what="[$x's cable pulled]"
		[ -n "$sw_port" ]
		check "the switch port of $x's eth0 is found ($sw_port)" $?
		lab_exec sw ip link set "$sw_port" down
	fi
	# Longer than the Lease renewal period (2 s): X renews while isolated.
	sleep 3
	ann=$(lab_kubectl -n "$L2_NS" get lease "speaker-$x" \
		-o jsonpath='{.metadata.annotations.ironlb\.io/speaker}')
	[[ $ann == *"$x_mac"* ]]
	check "$what $x's Lease still names its eth0 MAC" $? "annotation '$ann'"
	p=$(jq -r '(.prefixes // ["none"]) | join(",")' <<<"$ann" 2>/dev/null)
	[ -n "$p" ] && [[ ,$p, != *,192.0.2.0/24,* ]] && [[ ,$p, != *,none,* ]]
	check "$what $x's Lease publishes no data subnet" $? "prefixes '$p'"
	owned=$(l2_ctl "$x" status --json 2>/dev/null |
		jq '[.addresses[] | select(.role == "owner")] | length')
	[ "$owned" = 0 ]
	check "$what $x claims no address" $? "owned '$owned'"
	t_up=$(date +%s.%N)
	if [ "$how" = node ]; then
		lab_exec "$x" ip link set eth0 up
	else
		lab_exec sw ip link set "$sw_port" up
	fi
	sleep 2

	for a in "${foreign[@]}"; do
		# Gratuitous ARPs and probes (sender 0.0.0.0) alike: any claim.
		c=$(tshark -r "$CAP" -Y "arp.opcode == 1 && arp.dst.proto_ipv4 == $a \
			&& eth.src == $x_mac && frame.time_epoch >= $t_up" -T fields \
			-e frame.number 2>/dev/null | grep -c .)
		[ "$c" = 0 ]
		check "$what after its link came back $x neither probed nor announced $a (owned by ${OWNER[$a]})" \
			$? "$c frames"
	done
	for nd in "${LAB_NODES[@]}"; do
		c=$(metric "$nd" ironlb_l2_conflicts_total)
		[ "$c" = 0 ]
		check "$what $nd reports no address conflict (a speaker is not a foreign host)" $? \
			"conflicts '$c'"
	done
	lab_exec client ip neigh flush dev eth0
	for a in "${ADDRS[@]}"; do
		got=$(l2_client_get "$a" 1)
		[ "$got" = "${OWNER[$a]}" ]
		check "$what the client reaches $a at its owner ${OWNER[$a]}" $? "got '$got'"
	done
done
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
finish
