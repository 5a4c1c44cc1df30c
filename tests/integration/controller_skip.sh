#!/usr/bin/env bash
# controller_skip.sh - addresses a speaker found answered by a host outside
# ironlb ("inUse" in its Lease) are skipped by automatic assignment, against
# kube-sim with kubectl: a speaker-like Lease naming a pool's first address,
# a new Service getting the second, pool status skippedIPs and nextIPv4, an
# explicit request still honoured, a hostile report ignored with a warning,
# the metric, and the address handed out again once the Lease is stale.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/controller_lib.inc

start_sim
setup_cluster
ok "kube-sim runs and the CRDs are applied"

cat >"$TMP/pool.yaml" <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v4, namespace: ironlb-system}
spec:
  addresses: ["198.51.100.10-198.51.100.20"]
YAML
check "pool applies" k apply -f "$TMP/pool.yaml"

# speaker_lease NODE RENEWTIME INUSE_JSON [DURATION]: applies a Lease as a
# speaker keeps it (INUSE_JSON: a JSON array, or "" for none; DURATION in
# seconds, default 30).
speaker_lease() {
    local report='{"heartbeat":"192.0.2.1:7482","macs":["aa:bb:cc:dd:ee:ff"]'
    [ -n "$3" ] && report="$report,\"inUse\":$3"
    report="$report}"
    "$PY" - "$1" "$2" "$report" "${4:-30}" >"$TMP/lease-$1.json" <<'PY'
import json, sys
node, renew, report, duration = sys.argv[1:5]
print(json.dumps({
    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
    "metadata": {"name": "speaker-" + node, "namespace": "ironlb-system",
                 "labels": {"app.kubernetes.io/component": "speaker"},
                 "annotations": {"ironlb.io/speaker": report}},
    "spec": {"holderIdentity": node, "leaseDurationSeconds": int(duration),
             "renewTime": renew}}))
PY
    k apply -f "$TMP/lease-$1.json"
}
now() { date -u +%Y-%m-%dT%H:%M:%S.000000Z; }
pool_status() { k get ipaddresspool -n ironlb-system v4 -o jsonpath="{.status.$1}" 2>/dev/null; }
no_skipped() {
    local v
    v=$(pool_status skippedIPs)
    [ -z "$v" ] || { echo "status: $(k get ipaddresspool -n ironlb-system v4 -o jsonpath='{.status}')"; return 1; }
}

check "a speaker Lease reports 198.51.100.10 in use" \
    speaker_lease n1 "$(now)" '["198.51.100.10","2001:db8::15"]'

start_ctl a --leader-elect=false
wait_for "controller becomes ready (caches synced)" 20 ready a

check "LoadBalancer Service created" k create service loadbalancer first --tcp=80:80
wait_for "it gets the second address, the first being skipped" 10 \
    has_ip default first 198.51.100.11
wait_for "pool status lists skippedIPs" 10 test "$(pool_status skippedIPs)" = '["198.51.100.10"]'
wait_for "pool status nextIPv4 passes over the skipped address" 10 \
    test "$(pool_status nextIPv4)" = 198.51.100.12
wait_for "the change is logged with the speaker" 5 \
    grep -q 'msg="address skipped by automatic assignment.*ip=198.51.100.10 speaker=n1' \
    "$TMP/ctl-a.log"
check "metric ironlb_controller_skipped_addresses counts both addresses" \
    sh -c "curl -fsS '$(ctl_url a /metrics)' | grep -qx 'ironlb_controller_skipped_addresses 2'"

cat >"$TMP/explicit.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: explicit
  annotations: {ironlb.io/loadBalancerIPs: 198.51.100.10}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
YAML
check "a Service asking for the skipped address" k apply -f "$TMP/explicit.yaml"
wait_for "... gets it" 10 has_ip default explicit 198.51.100.10
check "Service asking for it deleted" k delete svc explicit

check "a second speaker's report that is not JSON" \
    k apply -f - <<'YAML'
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: speaker-n2
  namespace: ironlb-system
  labels: {app.kubernetes.io/component: speaker}
  annotations: {ironlb.io/speaker: "{not json"}
spec: {holderIdentity: n2, leaseDurationSeconds: 30, renewTime: "2030-01-01T00:00:00.000000Z"}
YAML
wait_for "... is logged as a warning naming the Lease" 5 \
    grep -q 'level=warn.*lease=speaker-n2.*not a JSON object' "$TMP/ctl-a.log"
check "... and the controller runs on" kill -0 "$CTL_PID"

check "the speaker's Lease goes stale (renewTime an hour ago)" \
    speaker_lease n1 "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000000Z)" '["198.51.100.10"]'
wait_for "pool status drops skippedIPs" 10 no_skipped
wait_for "nextIPv4 is the first address again" 10 test "$(pool_status nextIPv4)" = 198.51.100.10
check "a new LoadBalancer Service" k create service loadbalancer second --tcp=80:80
wait_for "... gets the first address" 10 has_ip default second 198.51.100.10

check "the speaker reports another address, fresh" speaker_lease n1 "$(now)" '["198.51.100.12"]'
wait_for "skippedIPs follows the latest report" 10 test "$(pool_status skippedIPs)" = '["198.51.100.12"]'
check "the next report has no inUse" speaker_lease n1 "$(now)" ""
wait_for "skippedIPs is gone" 10 no_skipped
check "a report on a 3 s Lease that is not renewed" speaker_lease n1 "$(now)" '["198.51.100.12"]' 3
wait_for "... is skipped" 5 test "$(pool_status skippedIPs)" = '["198.51.100.12"]'
wait_for "... until the Lease expires, without any further event" 10 \
    no_skipped
check "first keeps its address throughout" has_ip default first 198.51.100.11

if grep -q 'level=error' "$TMP"/ctl-a.log; then
    not_ok "controller logged no error" "$(grep 'level=error' "$TMP"/ctl-a.log)"
else ok "controller logged no error"; fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
