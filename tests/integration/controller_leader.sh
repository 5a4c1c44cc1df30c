#!/usr/bin/env bash
# controller_leader.sh - two ironlb-controller replicas with leader election
# against kube-sim: both become ready, exactly one holds the Lease
# "ironlb-controller" and only it writes; after the leader is killed
# (SIGKILL: no release) the other takes over within the lease duration and
# keeps allocating, keeping every address; a clean SIGTERM releases the
# Lease so that a successor takes over at once; a leader that cannot renew
# (every Lease request fails) stops writing after the renew deadline and a
# replica leads again once the API answers.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/controller_lib.inc

LEASE="--leader-elect-lease-duration=3s --leader-elect-renew-deadline=2s --leader-elect-retry-period=500ms"

start_sim
setup_cluster
cat <<'YAML' | k apply -f - >/dev/null
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v4, namespace: ironlb-system}
spec:
  addresses: ["198.51.100.0/24"]
  avoidBuggyIPs: true
YAML
ok "kube-sim runs with CRDs and a pool"

holder() { k get lease -n ironlb-system ironlb-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# shellcheck disable=SC2086
start_ctl a $LEASE
PID_A=$CTL_PID
# shellcheck disable=SC2086
start_ctl b $LEASE
PID_B=$CTL_PID
wait_for "replica a is ready" 20 ready a
wait_for "replica b is ready (ready on every replica, leader or not)" 20 ready b
wait_for "one replica holds the Lease" 10 test -n "$(holder)"
H=$(holder)
case "$H" in
*_"$PID_A") LEADER=a; LPID=$PID_A; OTHER=b; OPID=$PID_B ;;
*_"$PID_B") LEADER=b; LPID=$PID_B; OTHER=a; OPID=$PID_A ;;
*) LEADER= ;;
esac
if [ -n "$LEADER" ]; then ok "the Lease holder is one of the replicas ($H)"; else bail "the Lease holder is one of the replicas" "$H"; fi

for i in 1 2 3; do k create service loadbalancer s$i --tcp=80:80 >/dev/null; done
wait_for "the leader allocates" 10 sh -c "[ \"\$(kubectl get svc s3 -o jsonpath='{.status.loadBalancer.ingress[0].ip}')\" = 198.51.100.3 ]"
check "only the leader wrote (the other logged no assignment)" \
    test "$(grep -c 'address assigned' "$TMP/ctl-$OTHER.log")" -eq 0
check "the leader logged its assignments" \
    test "$(grep -c 'address assigned' "$TMP/ctl-$LEADER.log")" -eq 3
M=$(curl -fsS --max-time 5 "$(ctl_url $OTHER /metrics)")
check "the follower sent no PATCH (no status or annotation writes)" \
    sh -c "! grep -q 'verb=\"PATCH\"' <<'X'
$M
X"

k get svc -o jsonpath='{range .items[*]}{.metadata.name} {.status.loadBalancer.ingress[*].ip}{"\n"}{end}' | sort >"$TMP/before"
T0=$(date +%s.%N)
kill -KILL "$LPID"
wait "$LPID" 2>/dev/null
ok "the leader is killed with SIGKILL (no release)"
wait_for "the other replica takes over within the lease duration (+ slack)" 8 \
    sh -c "kubectl get lease -n ironlb-system ironlb-controller -o jsonpath='{.spec.holderIdentity}' | grep -q '_$OPID\$'"
T1=$(date +%s.%N)
echo "# takeover took $(echo "$T1 - $T0" | bc) s (lease duration 3 s)"
k create service loadbalancer s4 --tcp=80:80 >/dev/null
wait_for "the new leader keeps allocating" 10 sh -c "[ \"\$(kubectl get svc s4 -o jsonpath='{.status.loadBalancer.ingress[0].ip}')\" = 198.51.100.4 ]"
M=$(curl -fsS --max-time 5 "$(ctl_url $OTHER /metrics)")
check "the new leader's metrics count its PATCH requests" grep -q 'ironlb_kube_requests_total{verb="PATCH"' <<<"$M"
k get svc -o jsonpath='{range .items[*]}{.metadata.name} {.status.loadBalancer.ingress[*].ip}{"\n"}{end}' | grep -v '^s4 ' | sort >"$TMP/after"
check "every earlier address is kept across the takeover" diff "$TMP/before" "$TMP/after"

# A clean stop releases the Lease: the restarted replica takes it at once.
# shellcheck disable=SC2086
start_ctl c $LEASE
wait_for "a third replica becomes ready" 20 ready c
stop_pid "$OPID"
wait_for "after a clean SIGTERM of the leader the Lease goes to the third replica quickly" 4 \
    sh -c "kubectl get lease -n ironlb-system ironlb-controller -o jsonpath='{.spec.holderIdentity}' | grep -q '_$CTL_PID\$'"
k create service loadbalancer s5 --tcp=80:80 >/dev/null
wait_for "... which allocates" 10 sh -c "[ \"\$(kubectl get svc s5 -o jsonpath='{.status.loadBalancer.ingress[0].ip}')\" = 198.51.100.5 ]"

# Losing the Lease (the API refuses every Lease request) stops writes at once.
echo '{"errorPercent":100,"pathPrefix":"/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases"}' >"$TMP/fault.json"
check "kube-sim fails every Lease request" k create --raw /sim/v1/faults -f "$TMP/fault.json"
wait_for "the leader gives up after the renew deadline (2 s)" 6 grep -q 'lost leadership' "$TMP/ctl-c.log"
k create service loadbalancer s6 --tcp=80:80 >/dev/null
sleep 2
check "... and writes nothing: a new Service gets no address" test -z "$(lb_ip default s6)"
echo '{"reset":true}' >"$TMP/reset.json"
check "Lease requests succeed again" k create --raw /sim/v1/faults -f "$TMP/reset.json"
wait_for "a replica leads again and the waiting Service gets an address" 15 has_ip default s6 198.51.100.6
check "... every earlier address is kept" has_ip default s5 198.51.100.5

echo "1..$N"
[ "$FAILED" -eq 0 ]
