#!/bin/bash
# The step-down rule in the lab: the heartbeat mesh is cut between the owner
# of an address and its first backup (UDP 7482 dropped on the backup) while
# the L2 segment still joins them. The backup then believes the owner dead
# and claims the address; the owner hears that claim from another speaker's
# MAC, outranks it and defends the address; the backup hears the defence
# and steps down. The client keeps reaching the owner, and the metrics
# count the defence and the step-down.
#
# Run as root from the repository root with IRONLB_BUILD set.
set -uo pipefail

. tests/lab/lab.sh
. tests/lab/l2.sh
. tests/lab/l2_test.sh

metric() { # metric NODE NAME
	lab_exec "$1" curl -fsS -m 2 "http://$(lab_node_mgmt_addr "$1"):7481/metrics" |
		awk -v m="$2" '$1 == m {print $2}'
}

IP=192.0.2.200

lab_init
lab_up 3 || { not_ok "lab up"; finish; }
lab_api_start || { not_ok "kube-sim starts"; finish; }
l2_objects_apply && l2_service_create web $IP
check "objects applied with kubectl" $?
l2_servers_start $IP
l2_speakers_start
l2_wait_ready 15
check "every speaker becomes ready" $?
owner=$(l2_wait_owner $IP 10)
check "the speakers agree on the owner ($owner)" $?
[ -n "$owner" ] || finish
backup=""
for nd in "${LAB_NODES[@]}"; do
	role=$(l2_ctl "$nd" status --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["addresses"]:
    if a["address"] == sys.argv[1]: print(a["role"])' $IP)
	[ "$role" = "backup #1" ] && backup=$nd
done
[ -n "$backup" ]
check "the first backup is $backup" $?

lab_exec "$backup" iptables -A INPUT -p udp --dport 7482 -s "$(lab_node_addr "$owner")" -j DROP
check "heartbeats from $owner to $backup are dropped" $?

# The backup declares the owner dead after 300 ms and claims the address.
stepped=""
for i in $(seq 1 40); do
	stepped=$(metric "$backup" ironlb_l2_stepdowns_total)
	[ -n "$stepped" ] && [ "$stepped" != 0 ] && break
	sleep 0.1
done
[ -n "$stepped" ] && [ "$stepped" != 0 ]
check "$backup heard $owner defend the address and stepped down (stepdowns=$stepped)" $?
def=$(metric "$owner" ironlb_l2_defences_total)
[ -n "$def" ] && [ "$def" != 0 ]
check "$owner defended the address once it heard $backup claim it (defences=$def)" $?
sleep 0.5
lab_exec client ip neigh flush dev eth0
got=$(l2_client_get $IP 2)
mac=$(l2_client_neigh $IP)
[ "$got" = "$owner" ] && [ "$mac" = "$(lab_node_mac "$owner")" ]
check "during the partition the client still resolves and reaches $owner" $? "got '$got' mac '$mac'"
grep -q 'stepping down' "$LAB_DIR/speaker-$backup.log"
check "$backup logs the step-down" $?
finish
