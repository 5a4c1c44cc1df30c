#!/bin/bash
# BGP mode end to end: three nodes, each with ironlb-speaker and BIRD 2,
# the controller, kube-sim, and one FRR router (zebra, bfdd, bgpd) peering
# with every node over eBGP with a TCP-MD5 password taken from a
# kubernetes.io/basic-auth Secret and a BFDProfile. Checks that FRR gets a
# dual-stack Service's prefixes from all three nodes with the
# advertisement's communities and puts ECMP routes in its kernel; that an
# advertisement with aggregationLength 28 shows the /28, not the /32; that
# an externalTrafficPolicy Local Service is advertised only by the node
# with its endpoint and withdrawn when the endpoint goes; that deleting a
# Service withdraws; that an invalid BGPPeer and BGPAdvertisement stay out of BIRD's
# configuration; that BIRD killed and restarted gets everything back, and
# while it is away the speaker reports it and stays ready with L2 working;
# that SIGTERM of a speaker withdraws its routes while BIRD runs on; and
# that cutting a node's link brings FRR's session down through BFD.
# BIRD starts after the speaker on node1 and node2 and before it on node3.
#
# Run as root from the repository root with IRONLB_BUILD set. Everything
# lives in namespaces this script creates and removes on every exit path.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh
. tests/lab/bgp.sh
. tests/lab/bgp_speaker.sh

for tool in bird birdc vtysh /usr/lib/frr/bgpd /usr/lib/frr/zebra /usr/lib/frr/bfdd; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (tests/deps.sh installs it)"
		exit 0
	fi
done

PASSWORD=lab-md5-s3cret
FRR_ASN=64500
FRR4=192.0.2.1
N1=192.0.2.11
N2=192.0.2.12
N3=192.0.2.13
WEB4=198.51.100.10
WEB6=2001:db8:5::10
LOCAL4=198.51.100.20
AGG4=198.51.100.70
AGGP=198.51.100.64/28
L2IP=192.0.2.200
WAIT=15

not_() { ! "$@"; }
all_up() { # all_up CHECKFN ROUTER PEERS...
	local fn=$1 r=$2 p
	shift 2
	for p in "$@"; do "$fn" "$r" "$p" || { echo "$p not up"; return 1; }; done
}
frr_nb() { # frr_nb PEER KEY: one field of FRR's view of the neighbor
	frr_vtysh frr "show bgp neighbors $1 json" | "$BGP_PY" -c '
import json, sys
print(json.load(sys.stdin).get(sys.argv[1], {}).get(sys.argv[2], ""))' "$1" "$2"
}
ecmp() { # ecmp ROUTER PREFIX COUNT
	local got
	got=$(frr_kernel_nexthops "$1" "$2" | grep -c .)
	[ "$got" = "$3" ] || { echo "$got gateways: $(frr_kernel_nexthops "$1" "$2" | tr '\n' ' ')"; return 1; }
}
all_status() { # all_status EXPR: every node's speaker agrees
	local nd
	for n in "${LAB_NODES[@]}"; do bs_status_py "$n" "$1" || return 1; done
}

bs_finish() {
	local nd
	for nd in "${!BS_BIRD_PID[@]}"; do bs_bird_kill "$nd"; done
	if [ $failed -ne 0 ]; then
		for f in "$LAB_DIR"/bird-node*.log "$LAB_DIR"/frr-frr-bgpd.log; do
			echo "# --- $f"
			tail -n 15 "$f" | sed 's/^/#   /'
		done
	fi
	finish
}

lab_init
lab_up 3 || { not_ok "lab up"; bs_finish; }
bgp_router_add frr 1 || { not_ok "router namespace"; bs_finish; }
lab_api_start || { not_ok "kube-sim starts"; bs_finish; }

l2_objects_apply && lab_kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: frr-auth, namespace: $L2_NS}
type: kubernetes.io/basic-auth
stringData: {username: ignored, password: $PASSWORD}
---
apiVersion: ironlb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: $L2_NS}
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: frr, namespace: $L2_NS}
spec:
  myASN: $BS_NODE_ASN
  peerASN: $FRR_ASN
  peerAddress: $FRR4
  holdTime: 3s
  keepaliveTime: 1s
  connectTime: 1s
  passwordSecret: {name: frr-auth}
  bfdProfile: fast
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: $L2_NS}
spec: {addresses: [198.51.100.0/26, "2001:db8:5::/120"], autoAssign: false}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: agg, namespace: $L2_NS}
spec: {addresses: [198.51.100.64/26], autoAssign: false}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: a-main, namespace: $L2_NS}
spec: {ipAddressPools: [bgp], communities: ["64500:100", "large:64500:1:2"]}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: b-agg, namespace: $L2_NS}
spec: {ipAddressPools: [agg], aggregationLength: 28}
EOF
check "objects applied (Nodes, pools, Secret, BFDProfile, BGPPeer, two BGPAdvertisements)" $?

frr_start frr $FRR_ASN "$N1@$BS_NODE_ASN $N2@$BS_NODE_ASN $N3@$BS_NODE_ASN" \
	password=$PASSWORD bfd multipath=8 both-families
check "FRR (zebra, bfdd, bgpd) starts with the three nodes as neighbors" $?

# node3: BIRD first, on the configuration an earlier speaker left (the
# first one a speaker writes: router id, device protocol, nothing else).
# Its device protocol has the speaker's name: were it renamed, BIRD would
# drop the interfaces with the old one and, until the new one's next scan
# (60 s), start the new BGP session in Idle without a neighbor.
mkdir -p "$(bs_bird_dir node3)"
printf 'router id %s;\nprotocol device ilb_device {\n}\n' $N3 >"$(bs_bird_dir node3)/bird.conf"
bs_bird_start node3
bgp_wait 5 bs_bird_up node3
check "BIRD on node3 starts before its speaker (an old configuration)" $?

bs_controller_start
bs_service web "$WEB4,$WEB6" Cluster node1 node2 node3 &&
	bs_service local "$LOCAL4" Local node2 &&
	bs_service aggsvc "$AGG4" Cluster node1 node2 node3 &&
	l2_service_create l2web $L2IP
check "Services applied (dual-stack Cluster, Local on node2, one in the aggregated pool, one L2)" $?

l2_servers_start $L2IP
l2_speakers_start
l2_wait_ready 20
check "every speaker becomes ready" $?

# node1 and node2: BIRD after the speaker wrote its configuration.
rc=0
for nd in node1 node2; do
	bgp_wait 5 test -s "$(bs_bird_dir $nd)/bird.conf" || rc=1
	bs_bird_start $nd
done
check "the speakers on node1 and node2 wrote BIRD's configuration; BIRD starts on it" $rc

out=$(bgp_wait $WAIT bs_svc_ips web)
ips=$(bs_svc_ips web)
[ "$ips" = "$WEB4 $WEB6" ]
check "the controller assigned $WEB4 and $WEB6 to the dual-stack Service" $? "got '$ips'"

out=$(bgp_wait $WAIT all_status 'bgp.get("bird") == "up" and bgp["config"]["state"] == "ok"')
check "every speaker reports BIRD up and its configuration loaded" $? "$out"
grep -q "password \"$PASSWORD\"" "$(bs_bird_dir node1)/bird.conf" &&
	grep -q "bfd" "$(bs_bird_dir node1)/bird.conf"
check "BIRD's configuration carries the Secret's password and BFD" $?

out=$(bgp_wait $WAIT all_up frr_neighbor_up frr $N1 $N2 $N3)
check "FRR's sessions with the three nodes are established (TCP MD5)" $? "$out" \
	"node3 at FRR: $(frr_nb $N3 bgpState) $(frr_nb $N3 lastResetDueTo)" \
	"$(bs_birdc node3 show protocols all ilb_peer_0 | grep -E 'State|error|BGP state')"
out=$(bgp_wait $WAIT all_status 'sess("frr").get("established") is True')
check "every speaker reports its session with frr established" $? "$out"
out=$(bgp_wait $WAIT all_up frr_bfd_up frr $N1 $N2 $N3)
check "FRR's BFD sessions with the three nodes are up" $? "$out"

out=$(bgp_wait $WAIT frr_path_check frr $WEB4/32 paths=3 community=64500:100 large=64500:1:2)
check "FRR has $WEB4/32 from all three nodes with 64500:100 and large 64500:1:2" $? "$out"
out=$(frr_path_check frr $WEB4/32 from=$N1) && out=$(frr_path_check frr $WEB4/32 from=$N2) &&
	out=$(frr_path_check frr $WEB4/32 from=$N3)
check "the three paths come from node1, node2 and node3" $? "$out"
out=$(bgp_wait $WAIT ecmp frr $WEB4 3)
check "FRR's kernel has an ECMP route for $WEB4 with three next hops" $? "$out"
nh=$(frr_kernel_nexthops frr $WEB4 | tr '\n' ' ')
[ "$nh" = "$N1 $N2 $N3 " ]
check "the next hops are the nodes' addresses" $? "got: $nh"
out=$(bgp_wait $WAIT frr_path_check frr $WEB6/128 paths=3 community=64500:100 large=64500:1:2)
check "FRR has $WEB6/128 from all three nodes with both communities" $? "$out"
out=$(bgp_wait $WAIT ecmp frr $WEB6 3)
check "FRR's kernel has an ECMP route for $WEB6 with three next hops" $? "$out"
out=$(bs_status_py node1 'addr(a[0]).get("advertised") is True and addr(a[0]).get("advertisement") == "a-main"' $WEB4)
check "node1's status says $WEB4 is advertised through a-main" $? "$out"
out=$(lab_exec node1 ip route show table 74800 proto 74 | grep -c "blackhole $WEB4 .*metric 74")
[ "$out" = 1 ]
check "node1's kernel table 74800 holds $WEB4 as a blackhole of protocol 74, metric 74" $? \
	"$(lab_exec node1 ip route show table 74800)"

# Aggregation: table 74801, the /28 only.
out=$(bgp_wait $WAIT frr_path_check frr $AGGP paths=3)
check "the aggregating advertisement shows $AGGP at FRR from all three nodes" $? "$out"
out=$(frr_path_check frr $AGG4/32 absent)
check "and not $AGG4/32" $? "$out"
out=$(frr_path_check frr $AGGP community=64500:100)
[ $? = 1 ]
check "the aggregated prefix carries not a-main's communities" $? "$out"

# externalTrafficPolicy Local.
out=$(bgp_wait $WAIT frr_path_check frr $LOCAL4/32 paths=1 from=$N2)
check "the eTP Local Service $LOCAL4 is advertised by node2 alone" $? "$out"
out=$(bs_status_py node1 'addr(a[0]).get("advertised") is False and addr(a[0]).get("why") != ""' $LOCAL4)
check "node1's status says why it does not advertise $LOCAL4" $? "$out"
bs_slice local >"$LAB_DIR/slice-local.yaml" && lab_kubectl apply -f "$LAB_DIR/slice-local.yaml" >/dev/null
out=$(bgp_wait $WAIT frr_path_check frr $LOCAL4/32 absent)
check "removing node2's endpoint withdraws $LOCAL4 at FRR" $? "$out"
bs_slice local node3 >"$LAB_DIR/slice-local.yaml" && lab_kubectl apply -f "$LAB_DIR/slice-local.yaml" >/dev/null
out=$(bgp_wait $WAIT frr_path_check frr $LOCAL4/32 paths=1 from=$N3)
check "an endpoint on node3 makes node3 alone advertise it" $? "$out"

lab_kubectl -n default delete svc aggsvc >/dev/null
out=$(bgp_wait $WAIT frr_path_check frr $AGGP absent)
check "deleting the Service withdraws $AGGP at FRR" $? "$out"
out=$(bgp_wait $WAIT all_status 'len([r for r in bgp.get("tables", []) if r.get("table") == 74801 and r.get("routes")]) == 0')
check "and the nodes' table 74801 is empty" $? "$out"

# An invalid BGPPeer: keepaliveTime above holdTime.
lab_kubectl apply -f - >/dev/null <<EOF
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: bad, namespace: $L2_NS}
spec: {myASN: $BS_NODE_ASN, peerASN: 64599, peerAddress: 192.0.2.9, holdTime: 3s, keepaliveTime: 10s}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: c-bad, namespace: $L2_NS}
spec: {ipAddressPools: [bgp], communities: ["70000:1"]}
EOF
check "an invalid BGPPeer (keepaliveTime 10s above holdTime 3s) and BGPAdvertisement (community 70000:1) are applied" $?
out=$(bgp_wait $WAIT grep -q 'invalid object ignored.*bgppeers.*bad' "$LAB_DIR/speaker-node1.log")
check "the speaker logs the BGPPeer as invalid" $? "$(grep -i bad "$LAB_DIR/speaker-node1.log" | tail -3)"
out=$(bgp_wait $WAIT grep -q 'invalid object ignored.*bgpadvertisements.*c-bad' "$LAB_DIR/speaker-node1.log")
check "and the BGPAdvertisement" $? "$(grep -i c-bad "$LAB_DIR/speaker-node1.log" | tail -3)"
rc=0
for nd in "${LAB_NODES[@]}"; do
	l2_running "${L2_SPK_PID[$nd]}" || rc=1
	grep -qE '192\.0\.2\.9|70000|c-bad' "$(bs_bird_dir $nd)/bird.conf" && rc=1
done
check "no speaker crashed and no BIRD configuration holds the invalid objects" $rc
out=$(bs_status_py node1 'bgp["config"]["state"] == "ok" and bgp["config"]["reconfigurations_failed"] == 0')
check "node1's configuration state is still ok, no failed reconfiguration" $? "$out"

# BIRD killed on node1.
bs_bird_kill node1
out=$(bgp_wait $WAIT frr_path_check frr $WEB4/32 paths=2)
check "killing BIRD on node1 removes node1's path at FRR" $? "$out"
out=$(bgp_wait $WAIT bs_status_py node1 'bgp.get("bird") == "down"')
check "node1's speaker reports BIRD down" $? "$out"
body=$(lab_exec node1 curl -sS -m 2 -w ' %{http_code}' "http://$(lab_node_mgmt_addr node1):7481/readyz")
[[ "$body" == *"BIRD not reachable"*" 200" ]] && [[ "$body" == ok* ]]
check "node1's /readyz answers 200 'ok: BGP: BIRD not reachable ...'" $? "got '$body'"
o=$(l2_wait_owner $L2IP 10)
check "L2 keeps working: the speakers agree on the owner of $L2IP ($o)" $?
got=$(l2_client_get $L2IP 2)
check "and the client reaches it on the segment ($got)" $? "got '$got'"
bs_bird_start node1
out=$(bgp_wait $WAIT frr_path_check frr $WEB4/32 paths=3)
check "BIRD restarted on node1: FRR has all three paths for $WEB4 again" $? "$out"
out=$(bgp_wait $WAIT frr_path_check frr $WEB6/128 paths=3)
check "and for $WEB6" $? "$out"
out=$(bgp_wait $WAIT bs_status_py node1 'bgp.get("bird") == "up" and bgp["config"]["state"] == "ok"')
check "node1's speaker reports BIRD up and its configuration loaded again" $? "$out"

# SIGTERM of node2's speaker: its routes go, its BIRD and session stay.
pid=${L2_SPK_PID[node2]}
kill -TERM "$pid"
for i in $(seq 1 50); do l2_running "$pid" || break; sleep 0.1; done
! l2_running "$pid"
check "node2's speaker exits on SIGTERM" $?
unset "L2_SPK_PID[node2]"
out=$(bgp_wait $WAIT frr_path_check frr $WEB4/32 paths=2)
check "FRR loses node2's path for $WEB4" $? "$out"
out=$(frr_path_check frr $WEB4/32 from=$N2 2>&1)
[ $? != 0 ]
check "the remaining paths are not node2's" $? "$out"
out=$(bgp_wait $WAIT ecmp frr $WEB4 2)
check "FRR's kernel route for $WEB4 is left with two next hops" $? "$out"
l2_running "${BS_BIRD_PID[node2]}" && frr_neighbor_up frr $N2
check "BIRD on node2 runs on and its session with FRR stays established" $?
out=$(lab_exec node2 ip route show table 74800 proto 74)
[ -z "$out" ]
check "node2's kernel table 74800 holds no route of protocol 74" $? "$out"

# BFD: cut node3's link on the switch. The hold time is 3 s, BFD's
# detection 300 ms: FRR's log must say BFD took the session down.
port=$(bs_switch_port node3)
lab_exec sw ip link set "$port" down
check "node3's switch port ($port) is down" $?
out=$(bgp_wait $WAIT not_ frr_neighbor_up frr $N3)
check "FRR's session with node3 goes down" $? "$out"
out=$(bgp_wait $WAIT not_ frr_bfd_up frr $N3)
check "FRR's BFD session with node3 is down" $? "$out"
diag=$(frr_bfd_peers frr | "$BGP_PY" -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("peer") == sys.argv[1]: print(p.get("diagnostic", ""))' $N3)
[[ "$diag" == *"detection time expired"* ]]
check "FRR's BFD diagnostic for node3 is 'control detection time expired'" $? "got '$diag'"
why="$(frr_nb $N3 lastResetDueTo) / $(frr_nb $N3 lastNotificationReason)"
[[ "$why" == *BFD* ]]
check "FRR says BFD brought the session with node3 down ($why)" $? "got '$why'" \
	"$(frr_vtysh frr "show bgp neighbors $N3 json" | grep -iE 'last|reset|notif')"
out=$(bgp_wait $WAIT ecmp frr $WEB4 1)
check "node3's next hop leaves the ECMP route: node1 only" $? "$out"
lab_exec sw ip link set "$port" up
out=$(bgp_wait $WAIT frr_path_check frr $WEB4/32 paths=2)
check "the link back: FRR has node3's path again" $? "$out"

bs_finish
