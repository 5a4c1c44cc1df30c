#!/bin/bash
# The owner's data link goes down while the heartbeats run over another
# network, in the lab: three nodes whose speakers send heartbeats over the
# management segment (--heartbeat-addr on mgmt0). The peers keep hearing
# the owner, so liveness alone does not move the address. The owner's
# speaker sees that no usable link holds the address any more: it becomes
# ineligible for it and publishes its usable prefixes (mgmt0's only) in its
# Lease at once; on that Lease's watch event the peers take it for
# ineligible too and elect another owner, which the client reaches. When
# the link comes back the Lease lists the data subnet again and the node
# owns the address again (see "Link failures" in docs/l2.md).
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh

IP=192.0.2.200

# role_of NODE: NODE's role for $IP in `ironlbctl status --json`.
role_of() {
	l2_ctl "$1" status --json 2>/dev/null |
		jq -r --arg a $IP '.addresses[] | select(.address == $a) | .role' 2>/dev/null
}

# prefixes_of NODE: the prefixes NODE's Lease publishes, comma-separated.
prefixes_of() {
	lab_kubectl -n "$L2_NS" get lease "speaker-$1" \
		-o jsonpath='{.metadata.annotations.ironlb\.io/speaker}' 2>/dev/null |
		jq -r '(.prefixes // ["none"]) | join(",")' 2>/dev/null
}

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && l2_service_create web $IP
check "objects applied with kubectl" $?
l2_servers_start $IP
for nd in "${LAB_NODES[@]}"; do
	l2_speaker_start "$nd" --heartbeat-addr "$(lab_node_mgmt_addr "$nd")"
done
l2_wait_ready 15
check "every speaker becomes ready (heartbeats on the management segment)" $?
owner=$(l2_wait_owner $IP 10)
check "the speakers agree on the owner of $IP ($owner)" $?
[ -n "$owner" ] || finish
got=$(l2_client_get $IP 2)
[ "$got" = "$owner" ]
check "the client reaches the owner $owner" $? "got '$got'"
p=$(prefixes_of "$owner")
[[ ,$p, == *,192.0.2.0/24,* ]] && [[ ,$p, == *,203.0.113.0/24,* ]]
check "$owner's Lease publishes its data and management subnets" $? "prefixes '$p'"

lab_exec "$owner" ip link set eth0 down
others=()
for nd in "${LAB_NODES[@]}"; do [ "$nd" != "$owner" ] && others+=("$nd"); done
# Well past a heartbeat failover (300 ms) and a link notification.
sleep 1.5
o=$(l2_owner $IP "${others[@]}")
[ -n "$o" ] && [ "$o" != "$owner" ] && [ "$o" != "-" ]
check "with $owner's data link down the other speakers elect another owner" $? "owner '$o'"
got=""
for i in $(seq 1 10); do
	got=$(l2_client_get $IP 0.2)
	[ -n "$got" ] && [ "$got" != "$owner" ] && break
	sleep 0.1
done
[ -n "$got" ] && [ "$got" != "$owner" ]
check "the client reaches $IP on another node" $? "got '$got'"
r=$(role_of "$owner")
[ "$r" = ineligible ]
check "$owner's speaker is ineligible for $IP (no usable link holds it)" $? "role '$r'"
p=$(prefixes_of "$owner")
[[ ,$p, != *,192.0.2.0/24,* ]] && [[ ,$p, == *,203.0.113.0/24,* ]]
check "$owner's Lease publishes the management subnet only" $? "prefixes '$p'"

lab_exec "$owner" ip link set eth0 up
o=$(l2_wait_owner $IP 5)
[ "$o" = "$owner" ]
check "with the link back every speaker elects $owner again" $? "owner '$o'"
got=""
for i in $(seq 1 25); do
	got=$(l2_client_get $IP 0.2)
	[ "$got" = "$owner" ] && break
	sleep 0.1
done
[ "$got" = "$owner" ]
check "the client reaches $IP on $owner again" $? "got '$got'"
finish
