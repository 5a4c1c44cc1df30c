#!/bin/bash
# BGP mode with two kinds of peers: two nodes, each with ironlb-speaker and
# BIRD 2, kube-sim, a GoBGP router on iBGP (the nodes' own ASN; TCP-MD5
# password inline in the BGPPeer) and an FRR router on eBGP. Checks that
# GoBGP gets the Service's prefix from both nodes with the
# BGPAdvertisement's local preference (250) and communities; that an
# advertisement whose peers names only FRR reaches FRR and never GoBGP;
# that widening its peers to every peer, and changing the local
# preference, reach the routers through a BIRD reconfiguration; and that
# an address change does not reconfigure BIRD. Service statuses are
# written directly, as the controller would.
#
# Run as root from the repository root with IRONLB_BUILD set. Everything
# lives in namespaces this script creates and removes on every exit path.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh
. tests/lab/bgp.sh
. tests/lab/bgp_speaker.sh

for tool in bird birdc vtysh gobgpd gobgp /usr/lib/frr/bgpd /usr/lib/frr/zebra; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (tests/deps.sh installs it)"
		exit 0
	fi
done

PASSWORD=lab-ibgp-pw
FRR_ASN=64500
FRR4=192.0.2.1
GOBGP4=192.0.2.2
N1=192.0.2.11
N2=192.0.2.12
IP_ALL=198.51.100.10
IP_FRR=198.51.100.80
IP_NEW=198.51.100.11
WAIT=15

all_up() { # all_up CHECKFN ROUTER PEERS...
	local fn=$1 r=$2 p
	shift 2
	for p in "$@"; do "$fn" "$r" "$p" || { echo "$p not up"; return 1; }; done
}
all_status() {
	local nd
	for nd in "${LAB_NODES[@]}"; do bs_status_py "$nd" "$1" || return 1; done
}
lp_is() { # lp_is ROUTER PREFIX "LP LP..."
	local got
	got=$(bs_gobgp_localpref "$1" "$2")
	[ "$got" = "$3" ] || { echo "local preferences: '$got'"; return 1; }
}
reconf_ok() { bs_metric "$1" 'ironlb_speaker_bird_reconfigurations_total{result="ok"}'; }

bs_finish() {
	local nd
	for nd in "${!BS_BIRD_PID[@]}"; do bs_bird_kill "$nd"; done
	if [ $failed -ne 0 ]; then
		for f in "$LAB_DIR"/bird-node*.log "$LAB_DIR"/gobgp-gobgp.log; do
			echo "# --- $f"
			tail -n 15 "$f" | sed 's/^/#   /'
		done
	fi
	finish
}

lab_init
lab_up 2 || { not_ok "lab up"; bs_finish; }
bgp_router_add frr 1 && bgp_router_add gobgp 2 || { not_ok "router namespaces"; bs_finish; }
lab_api_start || { not_ok "kube-sim starts"; bs_finish; }

adverts() { # adverts LOCALPREF FRR_ONLY_PEERS
	cat <<EOT
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: a-all, namespace: $L2_NS}
spec: {ipAddressPools: [bgp], localPref: $1, communities: ["64500:100", "large:64500:1:2"]}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: b-frr-only, namespace: $L2_NS}
spec: {ipAddressPools: [frronly], peers: $2}
EOT
}

l2_objects_apply && lab_kubectl apply -f - >/dev/null <<EOF
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: frr, namespace: $L2_NS}
spec: {myASN: $BS_NODE_ASN, peerASN: $FRR_ASN, peerAddress: $FRR4, holdTime: 3s,
  keepaliveTime: 1s, connectTime: 1s}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: gobgp, namespace: $L2_NS}
spec: {myASN: $BS_NODE_ASN, peerASN: $BS_NODE_ASN, peerAddress: $GOBGP4, holdTime: 3s,
  keepaliveTime: 1s, connectTime: 1s, password: $PASSWORD}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: $L2_NS}
spec: {addresses: [198.51.100.0/26], autoAssign: false}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: frronly, namespace: $L2_NS}
spec: {addresses: [198.51.100.64/26], autoAssign: false}
---
$(adverts 250 "[frr]")
EOF
check "objects applied (pools, an iBGP and an eBGP BGPPeer, two BGPAdvertisements)" $?

frr_start frr $FRR_ASN "$N1@$BS_NODE_ASN $N2@$BS_NODE_ASN" multipath=8 &&
	gobgp_start gobgp $BS_NODE_ASN "$N1@$BS_NODE_ASN $N2@$BS_NODE_ASN" password=$PASSWORD
check "FRR (eBGP) and GoBGP (iBGP, TCP MD5) start" $?

bs_service all "$IP_ALL" Cluster node1 node2 && bs_status_write all $IP_ALL &&
	bs_service frronly "$IP_FRR" Cluster node1 node2 && bs_status_write frronly $IP_FRR
check "two Services with endpoints on both nodes and their addresses in status" $?

l2_speakers_start
l2_wait_ready 20
check "both speakers become ready" $?
rc=0
for nd in node1 node2; do
	bgp_wait 5 test -s "$(bs_bird_dir $nd)/bird.conf" || rc=1
	bs_bird_start $nd
done
check "BIRD starts on both nodes on the speakers' configuration" $rc

out=$(bgp_wait $WAIT all_up gobgp_neighbor_up gobgp $N1 $N2)
check "GoBGP's iBGP sessions with both nodes are established" $? "$out"
out=$(bgp_wait $WAIT all_up frr_neighbor_up frr $N1 $N2)
check "FRR's eBGP sessions with both nodes are established" $? "$out"
out=$(bgp_wait $WAIT all_status 'sess("gobgp").get("established") is True and sess("frr").get("established") is True')
check "both speakers report both sessions established" $? "$out"

out=$(bgp_wait $WAIT gobgp_path_check gobgp $IP_ALL/32 paths=2 community=64500:100 large=64500:1:2)
check "GoBGP has $IP_ALL/32 from both nodes with 64500:100 and large 64500:1:2" $? "$out"
out=$(lp_is gobgp $IP_ALL/32 "250 250")
check "both of GoBGP's paths carry local preference 250" $? "$out"
out=$(gobgp_path_check gobgp $IP_ALL/32 from=$N1) && out=$(gobgp_path_check gobgp $IP_ALL/32 from=$N2)
check "GoBGP's paths come from node1 and node2" $? "$out"
out=$(bgp_wait $WAIT frr_path_check frr $IP_ALL/32 paths=2 community=64500:100)
check "FRR has $IP_ALL/32 from both nodes too" $? "$out"

out=$(bgp_wait $WAIT frr_path_check frr $IP_FRR/32 paths=2)
check "the advertisement restricted to peer frr reaches FRR ($IP_FRR/32 from both nodes)" $? "$out"
out=$(gobgp_path_check gobgp $IP_FRR/32 absent)
check "and not GoBGP" $? "$out"
out=$(bs_birdc node1 show route export ilb_peer_1 2>&1)
[[ "$out" == *"$IP_ALL/32"* ]] && [[ "$out" != *"$IP_FRR/32"* ]]
check "BIRD on node1 exports $IP_ALL but not $IP_FRR to GoBGP (ilb_peer_1)" $? "$out"

r0=$(reconf_ok node1)
bs_service new "$IP_NEW" Cluster node1 node2 && bs_status_write new $IP_NEW
out=$(bgp_wait $WAIT gobgp_path_check gobgp $IP_NEW/32 paths=2)
check "a new Service's address reaches GoBGP" $? "$out"
lab_kubectl -n default delete svc new >/dev/null
out=$(bgp_wait $WAIT gobgp_path_check gobgp $IP_NEW/32 absent)
check "deleting it withdraws it at GoBGP" $? "$out"
r1=$(reconf_ok node1)
[ -n "$r0" ] && [ "$r0" = "$r1" ]
check "adding and removing an address did not reconfigure BIRD (ok count $r0 -> $r1)" $?

adverts 300 "[]" | lab_kubectl apply -f - >/dev/null
out=$(bgp_wait $WAIT gobgp_path_check gobgp $IP_FRR/32 paths=2)
check "widening b-frr-only's peers to every peer sends $IP_FRR to GoBGP" $? "$out"
out=$(bgp_wait $WAIT lp_is gobgp $IP_ALL/32 "300 300")
check "a local preference changed to 300 reaches GoBGP" $? "$out"
out=$(bgp_wait $WAIT frr_path_check frr $IP_FRR/32 paths=2)
check "FRR keeps $IP_FRR/32" $? "$out"
r2=$(reconf_ok node1)
[ -n "$r2" ] && [ "$r2" -gt "$r1" ]
check "the policy change was a BIRD reconfiguration (ok count $r1 -> $r2)" $?
out=$(bs_status_py node1 'bgp["config"]["state"] == "ok" and bgp["config"]["reconfigurations_failed"] == 0')
check "node1's configuration state is ok, no failed reconfiguration" $? "$out"

bs_finish
