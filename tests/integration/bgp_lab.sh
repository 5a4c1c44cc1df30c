#!/bin/bash
# The BGP router lab (tests/lab/bgp.sh) checked with hand-written BIRD
# configurations in the shape ironlb's BGP mode generates: two nodes running
# BIRD 2 learn blackhole routes of protocol 74 from kernel table 74800 and
# advertise them, with a community and a large community, to FRR (eBGP,
# TCP MD5, BFD) and to GoBGP. Checks that both routers see the prefixes from
# both nodes with their attributes, that FRR's kernel gets an ECMP route,
# that BFD is up, that a route of another protocol in the table is never
# advertised, that deleting a route withdraws it and that a node whose BIRD
# falls silent is withdrawn (BFD at FRR, the hold timer at GoBGP) and one
# whose BIRD is killed too. node1 runs a BGP session per address family,
# node2 one IPv4 session carrying both, with BFD set in the bgp protocol.
#
# Run as root from the repository root. Everything lives in namespaces this
# script creates and removes on every exit path.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/bgp.sh

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	local l
	for l in "$@"; do echo "#   $l"; done
}
check() {
	local name=$1 rc=$2
	shift 2
	if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name" "$@"; fi
}
finish() {
	echo "1..$n"
	if [ $failed -ne 0 ]; then
		LAB_KEEP_LOGS=1
		for f in "$LAB_DIR"/*.log; do
			echo "# --- $f"
			tail -n 15 "$f" | sed 's/^/#   /'
		done
	fi
	bird_stop node1 # reaped here: no "Killed" from the shell
	bird_stop node2
	lab_down
	[ $failed -eq 0 ]
	exit $?
}

for tool in bird birdc vtysh gobgpd gobgp /usr/lib/frr/bgpd /usr/lib/frr/zebra \
	/usr/lib/frr/bfdd; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (tests/deps.sh installs it)"
		exit 0
	fi
done

PASSWORD=lab-s3cret
NODE_ASN=64512
FRR_ASN=64500
GOBGP_ASN=64501
TABLE=74800
P4=198.51.100.10/32
P6=2001:db8:5::10/128
FRR4=192.0.2.1
FRR6=2001:db8:2::1
GOBGP4=192.0.2.2
GOBGP6=2001:db8:2::2
N1_4=192.0.2.11
N2_4=192.0.2.12
N1_6=2001:db8:2::11
WAIT=15 # seconds any convergence may take at most

# bird_conf NODE HOSTPART per-family|shared: the configuration ironlb would
# write for one advertisement policy (kernel table 74800) and two peers.
# per-family: an IPv4 and an IPv6 session per peer, BFD intervals set per
# interface in protocol bfd; shared: one IPv4 session per peer carrying both
# families, BFD intervals in the bgp protocol (the generator's shape).
bird_conf() {
	local node=$1 h=$2 style=$3 f bfd_if="" sessions
	f=$(bgp_dir "$node")/bird.conf
	mkdir -p "$(bgp_dir "$node")"
	if [ "$style" = per-family ]; then
		bfd_if='interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };'
		sessions="
protocol bgp frr4 from peer {
	local $LAB_DATA4_PREFIX.$h;
	neighbor $FRR4 as $FRR_ASN;
	bfd on;
	ipv4 { table t_frr4; import none; export all; next hop self; };
}
protocol bgp frr6 from peer {
	local $LAB_DATA6_PREFIX::$h;
	neighbor $FRR6 as $FRR_ASN;
	bfd on;
	ipv6 { table t_frr6; import none; export all; next hop self; };
}
protocol bgp gobgp4 from peer {
	local $LAB_DATA4_PREFIX.$h;
	neighbor $GOBGP4 as $GOBGP_ASN;
	ipv4 { table t_gobgp4; import none; export all; next hop self; };
}
protocol bgp gobgp6 from peer {
	local $LAB_DATA6_PREFIX::$h;
	neighbor $GOBGP6 as $GOBGP_ASN;
	ipv6 { table t_gobgp6; import none; export all; next hop self; };
}"
	else
		sessions="
protocol bgp frr from peer {
	local $LAB_DATA4_PREFIX.$h;
	neighbor $FRR4 as $FRR_ASN;
	bfd { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
	ipv4 { table t_frr4; import none; export all; next hop self; };
	ipv6 { table t_frr6; import none; export all; next hop self; };
}
protocol bgp gobgp from peer {
	local $LAB_DATA4_PREFIX.$h;
	neighbor $GOBGP4 as $GOBGP_ASN;
	ipv4 { table t_gobgp4; import none; export all; next hop self; };
	ipv6 { table t_gobgp6; import none; export all; next hop self; };
}"
	fi
	cat >"$f" <<EOF
log stderr all;
router id 192.0.2.$h;

protocol device { scan time 10; }

ipv4 table lb4;
ipv6 table lb6;
ipv4 table t_frr4;
ipv6 table t_frr6;
ipv4 table t_gobgp4;
ipv6 table t_gobgp6;

# Only ironlb's routes (protocol 74); the policy's communities.
filter lb_import {
	if krt_source != 74 then reject;
	bgp_community.add((64500, 100));
	bgp_large_community.add((64500, 1, 2));
	accept;
}

protocol kernel krt4 {
	kernel table $TABLE;
	learn;
	scan time 10;
	ipv4 { table lb4; import filter lb_import; export none; };
}
protocol kernel krt6 {
	kernel table $TABLE;
	learn;
	scan time 10;
	ipv6 { table lb6; import filter lb_import; export none; };
}

protocol pipe pipe_frr4 { table lb4; peer table t_frr4; export all; import none; }
protocol pipe pipe_frr6 { table lb6; peer table t_frr6; export all; import none; }
protocol pipe pipe_gobgp4 { table lb4; peer table t_gobgp4; export all; import none; }
protocol pipe pipe_gobgp6 { table lb6; peer table t_gobgp6; export all; import none; }

protocol bfd {
	$bfd_if
}

template bgp peer {
	local as $NODE_ASN;
	hold time 3;
	keepalive time 1;
	connect delay time 1;
	connect retry time 1;
	error wait time 1, 3;
	password "$PASSWORD";
}
$sessions
EOF
	echo "$f"
}

route() { # route NODE add|del PREFIX [proto]
	local fam=-4
	bgp_is_v6 "$3" && fam=-6
	# metric 74: as speaker/krt.c writes them
	lab_exec "$1" ip "$fam" route "$2" blackhole "$3" table $TABLE proto "${4:-74}" metric 74
}

not_() { ! "$@"; }

all_up() { # all_up CHECKFN ROUTER PEERS...
	local fn=$1 r=$2 p
	shift 2
	for p in "$@"; do "$fn" "$r" "$p" || { echo "$p not up"; return 1; }; done
}

lab_init
lab_up 2 || { not_ok "lab up"; finish; }
bgp_router_add frr 1 && bgp_router_add gobgp 2
check "lab with two nodes, an FRR and a GoBGP router" $?

frr_start frr $FRR_ASN "$N1_4@$NODE_ASN $N1_6@$NODE_ASN $N2_4@$NODE_ASN" \
	password=$PASSWORD bfd multipath=8 both-families=$N2_4
check "FRR (zebra, bfdd, bgpd) starts in its namespace and answers vtysh" $?
gobgp_start gobgp $GOBGP_ASN "$N1_4@$NODE_ASN $N1_6@$NODE_ASN $N2_4@$NODE_ASN" \
	password=$PASSWORD both-families=$N2_4
check "GoBGP starts in its namespace and answers on its gRPC port" $?

rc=0
bird_start node1 "$(bird_conf node1 11 per-family)" || rc=1
bird_start node2 "$(bird_conf node2 12 shared)" || rc=1
check "BIRD starts on both nodes (node1: a session per family, node2: one for both)" $rc

out=$(bgp_wait $WAIT all_up frr_neighbor_up frr $N1_4 $N1_6 $N2_4)
check "FRR's sessions with both nodes are established (IPv4 and IPv6, TCP MD5)" $? "$out"
out=$(bgp_wait $WAIT all_up gobgp_neighbor_up gobgp $N1_4 $N1_6 $N2_4)
check "GoBGP's sessions with both nodes are established" $? "$out"
out=$(bgp_wait $WAIT all_up frr_bfd_up frr $N1_4 $N1_6 $N2_4)
check "FRR's BFD sessions with both nodes are up" $? "$out" "$(frr_vtysh frr 'show bfd peers brief')"

for node in node1 node2; do
	route $node add $P4 && route $node add $P6
done

for p in $P4 $P6; do
	a=$N1_4 b=$N2_4
	bgp_is_v6 $p && a=$N1_6 # node2's IPv6 paths come over its IPv4 session
	out=$(bgp_wait $WAIT frr_path_check frr $p paths=2 community=64500:100 large=64500:1:2)
	check "FRR has $p from both nodes with community 64500:100 and large community 64500:1:2" $? "$out"
	out=$(frr_path_check frr $p from=$a) && out=$(frr_path_check frr $p from=$b)
	check "FRR's two paths for $p come from $a and $b" $? "$out"
	out=$(bgp_wait $WAIT gobgp_path_check gobgp $p paths=2 community=64500:100 \
		large=64500:1:2)
	check "GoBGP has $p from both nodes with the community and large community" $? "$out"
done

ecmp() { # ecmp ROUTER PREFIX COUNT: the router's kernel route has COUNT gateways
	local got
	got=$(frr_kernel_nexthops "$1" "$2" | grep -c .)
	[ "$got" = "$3" ] || { echo "$got gateways: $(frr_kernel_nexthops "$1" "$2" | tr '\n' ' ')"; return 1; }
}
out=$(bgp_wait $WAIT ecmp frr $P4 2)
check "FRR's kernel has an ECMP route for $P4 via both nodes" $? "$out"
nh=$(frr_kernel_nexthops frr $P4 | tr '\n' ' ')
[ "$nh" = "$N1_4 $N2_4 " ]
check "the ECMP next hops of $P4 are the nodes' addresses" $? "got: $nh"
out=$(bgp_wait $WAIT ecmp frr $P6 2)
check "FRR's kernel has an ECMP route for $P6 via both nodes" $? "$out"

# A route of another protocol beside one of ours: once ours is at FRR, the
# other one would have been too.
route node1 add 198.51.100.20/32 static && route node1 add 198.51.100.21/32
out=$(bgp_wait $WAIT frr_path_check frr 198.51.100.21/32 from=$N1_4)
check "a route of protocol 74 added later is advertised" $? "$out"
out=$(frr_path_check frr 198.51.100.20/32 absent)
check "a route of another protocol (static) in table $TABLE is not advertised" $? "$out"
out=$(gobgp_path_check gobgp 198.51.100.20/32 absent)
check "nor is it at GoBGP" $? "$out"

route node1 del $P4 && route node1 del $P6
out=$(bgp_wait $WAIT frr_path_check frr $P4 paths=1 from=$N2_4)
check "deleting $P4 in node1 withdraws node1's path at FRR" $? "$out"
out=$(bgp_wait $WAIT frr_path_check frr $P6 paths=1 from=$N2_4)
check "deleting $P6 in node1 withdraws node1's path at FRR" $? "$out"
out=$(bgp_wait $WAIT gobgp_path_check gobgp $P4 paths=1 from=$N2_4)
check "and at GoBGP" $? "$out"
out=$(bgp_wait $WAIT ecmp frr $P4 1)
check "FRR's kernel route for $P4 is left with one next hop" $? "$out"

# node2 falls silent: FRR notices through BFD, GoBGP through its hold timer.
bird_freeze node2
out=$(bgp_wait $WAIT frr_path_check frr $P4 absent)
check "a node whose BIRD falls silent is withdrawn at FRR ($P4)" $? "$out"
out=$(bgp_wait $WAIT frr_path_check frr $P6 absent)
check "and its $P6" $? "$out"
out=$(bgp_wait $WAIT not_ frr_bfd_up frr $N2_4)
check "FRR's BFD session with the silent node is down" $? "$out"
out=$(bgp_wait $WAIT gobgp_path_check gobgp $P4 absent)
check "GoBGP withdraws the silent node's $P4 when its hold timer expires" $? "$out"
out=$(frr_path_check frr 198.51.100.21/32 from=$N1_4)
check "node1's routes stay at FRR" $? "$out"

bird_stop node1
out=$(bgp_wait $WAIT frr_path_check frr 198.51.100.21/32 absent)
check "killing BIRD on node1 withdraws its routes at FRR" $? "$out"
out=$(bgp_wait $WAIT gobgp_path_check gobgp 198.51.100.21/32 absent)
check "and at GoBGP" $? "$out"

finish
