#!/bin/bash
# BIRD 2 accepts and runs the configurations speaker/bird_conf.c generates.
#
#  1. `bird -p -c FILE` on every golden file of tests/unit/golden/bird (the
#     unit test checks the renderer produces them byte for byte).
#  2. The main scenario (ebgp_password_bfd.conf) for real: BIRD runs in a
#     fresh network namespace "spk" (192.0.2.1, 2001:db8::1) linked to a
#     namespace "rtr" where a second BIRD plays the eBGP router (192.0.2.2,
#     AS 64513, same TCP-MD5 password, BFD). Blackhole routes of protocol 74
#     in kernel table 1000 must be learned with the policy's attributes, a
#     route of another protocol in that table must not, the pipe must carry
#     them to the peer table, and the router must receive them over the
#     session with this node as next hop (IPv6 ones too, over the IPv4
#     session), then lose them when the kernel route goes.
#
# Run as root from the repository root. Everything is bounded by timeouts;
# both BIRDs and the namespaces go away on every exit path.
set -uo pipefail

. tests/lab/lab.sh

GOLDEN=tests/unit/golden/bird
MAIN=$GOLDEN/ebgp_password_bfd.conf
TABLE=1000
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
	for l in "$@"; do
		echo "#   $l"
	done
}
check() {
	local name=$1 rc=$2
	shift 2
	if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name" "$@"; fi
	return "$rc"
}
finish() {
	echo "1..$n"
	if [ $failed -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do
			[ -f "$f" ] || continue
			echo "# --- $f"
			tail -20 "$f" | sed 's/^/#   /'
		done
	fi
	lab_down
	[ $failed -eq 0 ]
	exit $?
}

# birdc against one of the two daemons, bounded in time.
spk_c() { timeout 5 birdc -s "$LAB_DIR/spk.ctl" "$@" 2>&1; }
rtr_c() { timeout 5 birdc -s "$LAB_DIR/rtr.ctl" "$@" 2>&1; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# The attribute block of one route in `show route ... all` output: from its
# line to the next route line.
route_block() {
	awk -v p="$1" '
		$1 == p { on = 1; print; next }
		on && /^[^ \t]/ { on = 0 }
		on { print }'
}

lab_init

# ---- 1. every golden file parses ----
files=("$GOLDEN"/*.conf)
[ ${#files[@]} -ge 4 ] && [ -f "$MAIN" ]
check "the golden files are there (${#files[@]})" $?
for f in "${files[@]}"; do
	out=$(timeout 10 bird -p -c "$f" 2>&1)
	check "bird -p accepts $(basename "$f")" $? "$out"
done

# ---- 2. the main scenario runs ----
lab_add_ns spk && lab_add_ns rtr
check "namespaces created" $? || finish
a=v${LAB_ID#ilb}s$RANDOM
b=v${LAB_ID#ilb}r$RANDOM
ip link add "$a" type veth peer name "$b" &&
	ip link set "$a" netns "$(lab_ns spk)" && ip link set "$b" netns "$(lab_ns rtr)" &&
	lab_exec spk ip link set "$a" name eth0 && lab_exec rtr ip link set "$b" name eth0 &&
	lab_exec spk ip addr add 192.0.2.1/24 dev eth0 &&
	lab_exec spk ip addr add 2001:db8::1/64 dev eth0 nodad &&
	lab_exec rtr ip addr add 192.0.2.2/24 dev eth0 &&
	lab_exec rtr ip addr add 2001:db8::2/64 dev eth0 nodad &&
	lab_exec spk ip link set eth0 up && lab_exec rtr ip link set eth0 up
check "spk and rtr linked (192.0.2.1 <-> 192.0.2.2)" $? || finish

# What the speaker writes (krt.c): blackholes of protocol 74. And a route
# of somebody else in the same table.
lab_exec spk ip route add blackhole 192.0.2.200/32 table $TABLE proto 74 &&
	lab_exec spk ip -6 route add blackhole 2001:db8:5::200/128 table $TABLE proto 74 &&
	lab_exec spk ip route add blackhole 192.0.2.201/32 table $TABLE proto static
check "kernel routes in table $TABLE (two of proto 74, one of proto static)" $?

pw=$(sed -n 's/^\tpassword "\(.*\)";$/\1/p' "$MAIN")
[ -n "$pw" ]
check "the main scenario has a password" $? || finish
cat >"$LAB_DIR/rtr.conf" <<EOF
router id 192.0.2.2;
protocol device { }
protocol bfd { }
protocol bgp node1 {
	local 192.0.2.2 as 64513;
	neighbor 192.0.2.1 as 64512;
	password "$pw";
	bfd on;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
EOF
cp "$MAIN" "$LAB_DIR/spk.conf"
lab_spawn spk bird-spk timeout 120 bird -f -c "$LAB_DIR/spk.conf" -s "$LAB_DIR/spk.ctl" \
	>/dev/null
lab_spawn rtr bird-rtr timeout 120 bird -f -c "$LAB_DIR/rtr.conf" -s "$LAB_DIR/rtr.ctl" \
	>/dev/null
wait_for 10 spk_c show status && wait_for 10 rtr_c show status
check "both BIRDs start and answer on their control sockets" $? || finish

has_route() { "$1" show route table "$2" | grep -q "^$3 "; }
wait_for 10 has_route spk_c ilb_p0_v4 192.0.2.200/32
check "the kernel protocol learns 192.0.2.200/32 into ilb_p0_v4" $? \
	"$(spk_c show route table ilb_p0_v4 all)"
blk=$(spk_c show route table ilb_p0_v4 all | route_block 192.0.2.200/32)
echo "$blk" | grep -q "blackhole \[ilb_p0_krt_v4 " &&
	echo "$blk" | grep -q "BGP.local_pref: 200" &&
	echo "$blk" | grep -q "BGP.community: (65000,100)" &&
	echo "$blk" | grep -q "BGP.large_community: (64512, 1, 2)" &&
	echo "$blk" | grep -q "Kernel.source: 74"
check "it carries local pref 200, community (65000,100), large community (64512, 1, 2)" $? \
	"$blk"
! spk_c show route table ilb_p0_v4 | grep -q "^192.0.2.201/32 "
check "the proto static route 192.0.2.201/32 of the same table is not imported" $?
wait_for 10 has_route spk_c ilb_p0_v6 2001:db8:5::200/128
blk=$(spk_c show route table ilb_p0_v6 all | route_block 2001:db8:5::200/128)
echo "$blk" | grep -q "BGP.community: (65000,100)"
check "the IPv6 route is learned into ilb_p0_v6 with the community" $? "$blk"

wait_for 5 has_route spk_c ilb_peer_0_v4 192.0.2.200/32 &&
	wait_for 5 has_route spk_c ilb_peer_0_v6 2001:db8:5::200/128
check "the pipes carry both routes to the peer tables ilb_peer_0_v4/_v6" $? \
	"$(spk_c show route table ilb_peer_0_v4)" "$(spk_c show route table ilb_peer_0_v6)"
! spk_c show route table ilb_peer_0_v4 | grep -q "^192.0.2.201/32 "
check "the peer table does not have the proto static route" $?

established() { spk_c show protocols ilb_peer_0 | grep -q Established; }
wait_for 30 established
check "the BGP session with the TCP-MD5 password is established" $? \
	"$(spk_c show protocols all ilb_peer_0 | head -20)"

wait_for 15 has_route rtr_c master4 192.0.2.200/32
blk=$(rtr_c show route table master4 all | route_block 192.0.2.200/32)
echo "$blk" | grep -q "BGP.next_hop: 192.0.2.1$" &&
	echo "$blk" | grep -q "BGP.community: (65000,100)" &&
	echo "$blk" | grep -q "BGP.large_community: (64512, 1, 2)" &&
	echo "$blk" | grep -q "BGP.as_path: 64512$"
check "the router receives 192.0.2.200/32 from AS 64512, next hop 192.0.2.1, communities" $? \
	"$blk"
! rtr_c show route table master4 | grep -q "^192.0.2.201/32 "
check "the router does not receive the proto static route" $?
wait_for 10 has_route rtr_c master6 2001:db8:5::200/128
blk=$(rtr_c show route table master6 all | route_block 2001:db8:5::200/128)
echo "$blk" | grep -q "BGP.next_hop: 2001:db8::1 "
check "the router receives the IPv6 route over the IPv4 session, next hop 2001:db8::1" $? "$blk"

bfd_up() { spk_c show bfd sessions | grep -E "^192\.0\.2\.2 +eth0 +Up +\S+ +0\.300 "; }
wait_for 15 bfd_up
check "the BFD session with 192.0.2.2 is up with the profile's 300 ms interval" $? \
	"$(spk_c show bfd sessions)"

gone() { ! has_route rtr_c master4 192.0.2.200/32; }
has_route rtr_c master4 192.0.2.200/32 &&
	lab_exec spk ip route del blackhole 192.0.2.200/32 table $TABLE proto 74 &&
	wait_for 15 gone
check "deleting the kernel route withdraws 192.0.2.200/32 from the router" $?

finish
