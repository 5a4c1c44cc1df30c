#!/bin/bash
# L2 failover time in the lab: three nodes, speakers at the default 100 ms
# heartbeat (dead after 3 misses). Each trial kills the current owner's
# speaker with SIGKILL and measures, from the client, the time until a TCP
# connection to the LoadBalancer address is answered by another node (the
# client's neighbour entry is never flushed: the new owner's gratuitous ARP
# must update it). The killed speaker is restarted before the next trial.
# Prints min/p50/p90/p99/max; never fails on time.
# Usage: tests/bench/l2_failover.sh [TRIALS] (default 20). Needs root.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lab/lab.sh
. tests/lab/l2.sh

TRIALS=${1:-20}
IP=192.0.2.200

lab_init
lab_up 3 || exit 1
lab_api_start || exit 1
l2_objects_apply && l2_service_create web $IP || exit 1
l2_servers_start $IP
l2_speakers_start
l2_wait_ready 20 || { echo "speakers not ready" >&2; exit 1; }

times=()
for t in $(seq 1 "$TRIALS"); do
	owner=$(l2_wait_owner $IP 10) || { echo "trial $t: no agreed owner" >&2; continue; }
	# The client talks to the owner (fresh neighbour entry).
	for i in $(seq 1 50); do
		[ "$(l2_client_get $IP 0.5)" = "$owner" ] && break
		sleep 0.05
	done
	start=$(date +%s%N)
	kill -KILL "${L2_SPK_PID[$owner]}"
	got=""
	for i in $(seq 1 200); do
		got=$(l2_client_get $IP 0.1)
		[ -n "$got" ] && [ "$got" != "$owner" ] && break
		sleep 0.01
	done
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ -n "$got" ] && [ "$got" != "$owner" ]; then
		times+=("$ms")
		printf 'trial %2d: %s -> %s in %d ms\n' "$t" "$owner" "$got" "$ms"
	else
		printf 'trial %2d: %s -> no new owner after %d ms\n' "$t" "$owner" "$ms"
	fi
	l2_speaker_start "$owner"
	l2_wait_ready 20 >/dev/null
	# Let the restarted speaker be seen alive by its peers (and take back
	# what it wins) before the next trial.
	sleep 1.5
done

printf '%s\n' "${times[@]}" | sort -n | awk -v n="${#times[@]}" -v trials="$TRIALS" '
	{ v[NR] = $1 }
	END {
		if (n == 0) { print "no successful trial"; exit }
		printf "l2 failover (SIGKILL of the owner, heartbeat 100ms x 3): %d/%d trials\n", n, trials
		printf "  min %d ms  p50 %d ms  p90 %d ms  p99 %d ms  max %d ms\n", v[1],
			v[int((n - 1) * 0.5) + 1], v[int((n - 1) * 0.9) + 1],
			v[int((n - 1) * 0.99) + 1], v[n]
	}'
