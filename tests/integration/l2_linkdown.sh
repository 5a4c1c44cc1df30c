#!/bin/bash
# L2 failover when the owner's link goes down, in the lab: three nodes with
# speakers; the heartbeats run over the data segment (each speaker's
# heartbeat address is its Node's InternalIP on eth0), so the node whose
# link fails stops hearing and being heard, and the others elect the next
# node. Two ways the link fails:
#
#   A. inside the node: `ip link set eth0 down` (the node's speaker sees its
#      announce interface go down);
#   B. on the switch side: the node's cable pulled (its bridge port set
#      down; the node's eth0 stays up but loses its carrier).
#
# Each time: the old owner's speaker, with no usable link for the address,
# releases its claim (it is ineligible: no_interface);
# the client (its neighbour entry never flushed) reaches the backup the
# election names next over TCP; ARP requests from the client
# are answered by the new owner's MAC only; the new owner sent gratuitous
# ARPs. When the link comes back the node owns the address again (it wins
# the election) and claims it again without probing (it was announced),
# announcing it with gratuitous ARPs, the client
# reaches it, and the backup stops answering ARP for it.
#
# Run as root from the repository root with IRONLB_BUILD set (arpflood from
# `make tools`; ARPFLOOD overrides its path).
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh

IP=192.0.2.200
ARPFLOOD=${ARPFLOOD:-$LAB_BIN/../asan/tools/arpflood}

# field_of NODE IP FIELD: FIELD of IP in NODE's `ironlbctl status --json`.
field_of() {
	l2_ctl "$1" status --json 2>/dev/null |
		jq -r --arg a "$2" --arg f "$3" '.addresses[] | select(.address == $a) | .[$f]' 2>/dev/null
}
role_of() { field_of "$1" "$2" role; }

# wait_agree OWNER NODES...: every NODE's speaker names OWNER as the owner
# of $IP (up to 5 s).
wait_agree() {
	local want=$1 i nd all
	shift
	for i in $(seq 1 25); do
		all=1
		for nd in "$@"; do
			[ "$(field_of "$nd" $IP owner)" = "$want" ] || { all=0; break; }
		done
		[ $all = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

# arp_macs: 20 ARP requests for $IP from the client at 100/s; prints the
# MACs that answered, as MAC/COUNT,...
arp_macs() {
	lab_exec client "$ARPFLOOD" eth0 $IP --count 20 --rate 100 --linger 300 |
		sed -n 's/.* macs=//p'
}

# wait_reach NODE: the client's TCP connections to $IP land on NODE (up to
# 5 s); prints the last answer.
wait_reach() {
	local want=$1 got="" i
	for i in $(seq 1 25); do
		got=$(l2_client_get $IP 0.2)
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	echo "$got"
	[ "$got" = "$want" ]
}

now() { date +%s.%N; }

# garps_from MAC AFTER BEFORE: gratuitous ARPs for $IP from MAC between two
# epoch times, counted in $GARPS (epoch and source MAC, from the capture).
garps_from() {
	awk -v m="$1" -v a="$2" -v b="$3" '$2 == m && $1 >= a && $1 <= b' "$GARPS" | grep -c .
}

[ -x "$ARPFLOOD" ] || {
	not_ok "arpflood is built ($ARPFLOOD): run make tools"
	echo "1..$n"
	exit 1
}

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && l2_service_create web $IP
check "objects applied with kubectl" $?
l2_servers_start $IP

CAP=$LAB_DIR/linkdown.pcap
ip netns exec "$(lab_ns client)" tcpdump -i eth0 -U -w "$CAP" arp 2>/dev/null &
TCPDUMP=$!
sleep 0.3

l2_speakers_start
l2_wait_ready 15
check "every speaker becomes ready" $?
owner=$(l2_wait_owner $IP 10)
check "the speakers agree on the owner of $IP ($owner)" $?
[ -n "$owner" ] || finish
next=""
for nd in "${LAB_NODES[@]}"; do
	[ "$(role_of "$nd" $IP)" = "backup #1" ] && next=$nd
done
[ -n "$next" ]
check "one node reports itself as backup #1 ($next)" $?
[ -n "$next" ] || finish
owner_mac=$(lab_node_mac "$owner")
next_mac=$(lab_node_mac "$next")
others=()
for nd in "${LAB_NODES[@]}"; do [ "$nd" != "$owner" ] && others+=("$nd"); done

got=$(wait_reach "$owner")
check "the client reaches the owner $owner over TCP" $? "got '$got'"

# The switch-side port of the owner's eth0: eth0@ifN names its peer's ifindex.
peer_if=$(lab_exec "$owner" ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
sw_port=$(lab_exec sw ip -o link show | awk -F': ' -v i="$peer_if" '$1 == i {sub(/@.*/, "", $2); print $2}')

# down_cmd / up_cmd per case
case_down() {
	if [ "$1" = node ]; then
		lab_exec "$owner" ip link set eth0 down
	else
		lab_exec sw ip link set "$sw_port" down
	fi
}
case_up() {
	if [ "$1" = node ]; then
		lab_exec "$owner" ip link set eth0 up
	else
		lab_exec sw ip link set "$sw_port" up
	fi
}

declare -A T_DOWN T_UP T_END
for how in node switch; do
	if [ "$how" = node ]; then
		what="$owner's eth0 set down inside the node"
	else
		what="$owner's cable pulled (switch port $sw_port down)"
		[ -n "$sw_port" ]
		check "the switch port of $owner's eth0 is found ($sw_port)" $?
	fi
	# Let the last announcement burst end and the client's neighbour
	# locktime (1 s: a different MAC announced sooner after the previous
	# update is ignored by the kernel) pass, so the next owner's gratuitous
	# ARPs are taken.
	sleep 2
	t_down=$(now)
	case_down $how
	if [ "$how" = switch ]; then
		carrier=$(lab_exec "$owner" cat /sys/class/net/eth0/carrier 2>/dev/null)
		flags=$(lab_exec "$owner" ip -o link show eth0)
		[ "$carrier" = 0 ] && [[ $flags == *NO-CARRIER* ]] && [[ $flags == *,UP* ]]
		check "$owner's eth0 is up without carrier" $? "carrier '$carrier'" "$flags"
	fi
	got=$(wait_reach "$next")
	check "[$what] the client reaches the next node $next over TCP" $? "got '$got'"
	wait_agree "$next" "${others[@]}"
	check "[$what] the other speakers agree that $next owns $IP" $? \
		"owners: $(for nd in "${others[@]}"; do echo -n "$nd:$(field_of "$nd" $IP owner) "; done)"
	macs=$(arp_macs)
	[ "$macs" = "$next_mac/20" ]
	check "[$what] ARP requests for $IP are answered by $next's MAC only" $? \
		"answers '$macs', want '$next_mac/20'"
	ifs=$(field_of "$owner" $IP interface)
	[ "$ifs" = null ]
	check "[$what] $owner's speaker announces $IP on no interface" $? \
		"interface '$ifs', reason '$(field_of "$owner" $IP reason)'"
	mac=$(l2_client_neigh $IP)
	[ "$mac" = "$next_mac" ]
	check "[$what] the client's neighbour entry names $next's MAC" $? "neigh '$mac'"
	t_up=$(now)
	case_up $how
	got=$(wait_reach "$owner")
	check "[$what, link back] the client reaches $owner again" $? "got '$got'"
	wait_agree "$owner" "${LAB_NODES[@]}"
	check "[$what, link back] every speaker agrees that $owner owns $IP again" $? \
		"owners: $(for nd in "${LAB_NODES[@]}"; do echo -n "$nd:$(field_of "$nd" $IP owner) "; done)"
	macs=$(arp_macs)
	[ "$macs" = "$owner_mac/20" ]
	check "[$what, link back] ARP requests are answered by $owner's MAC only ($next stopped)" $? \
		"answers '$macs', want '$owner_mac/20'"
	T_DOWN[$how]=$t_down
	T_UP[$how]=$t_up
	# Past the ARP lock time (1 s) of the client's entry before the next case.
	sleep 1
done
sleep 0.8 # the last announcement burst (3 x 250 ms)
t_end=$(now)
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
GARPS=$LAB_DIR/garps
tshark -r "$CAP" -Y "arp.opcode == 1 && arp.src.proto_ipv4 == $IP && arp.dst.proto_ipv4 == $IP" \
	-T fields -e frame.time_epoch -e eth.src >"$GARPS" 2>/dev/null

T_END[node]=${T_DOWN[switch]}
T_END[switch]=$t_end
for how in node switch; do
	t_down=${T_DOWN[$how]} t_up=${T_UP[$how]} t_stop=${T_END[$how]}
	c=$(garps_from "$next_mac" "$t_down" "$t_up")
	[ "$c" -ge 1 ]
	check "[$how] $next sent gratuitous ARPs for $IP after $owner's link went down ($c)" $?
	c=$(garps_from "$owner_mac" "$t_down" "$t_up")
	[ "$c" = 0 ]
	check "[$how] nothing from $owner's MAC announced $IP while its link was down" $? "$c frames"
	c=$(garps_from "$owner_mac" "$t_up" "$t_stop")
	[ "$c" -ge 1 ]
	check "[$how] $owner re-announced $IP with gratuitous ARPs when its link came back ($c)" $?
done
l2_running "${L2_SPK_PID[$owner]}"
check "$owner's speaker ran through both link failures" $?
finish
