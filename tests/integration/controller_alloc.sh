#!/usr/bin/env bash
# controller_alloc.sh - ironlb-controller end to end against kube-sim with
# kubectl: pools (IPv4 and IPv6), LoadBalancer Services with and without a
# requested address, an address outside every pool (AllocationFailed),
# externalIPs (reserved / ExternalIPRejected), ClusterIP, headless and
# ExternalName Services left alone, release on deletion, a restart that
# keeps every address and rewrites nothing, pool status counts, an invalid
# pool that reports a condition and takes no address away, metrics.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/controller_lib.inc

start_sim
setup_cluster
ok "kube-sim runs and the CRDs are applied"

cat >"$TMP/pools.yaml" <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v4, namespace: ironlb-system}
spec:
  addresses: ["198.51.100.0/24"]
  avoidBuggyIPs: true
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v6, namespace: ironlb-system}
spec:
  addresses: ["2001:db8:100::/120"]
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: ext, namespace: ironlb-system}
spec:
  addresses: ["203.0.113.0/28"]
  autoAssign: false
  allowExternalIPs: true
YAML
check "pools apply" k apply -f "$TMP/pools.yaml"

start_ctl a --leader-elect=false
CTL_A=$CTL_PID
wait_for "controller becomes ready (caches synced)" 20 ready a

# --- LoadBalancer -------------------------------------------------------------
check "LoadBalancer Service created" k create service loadbalancer web --tcp=80:80
wait_for "LoadBalancer Service gets an address within 5 s" 5 \
    k wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=198.51.100.1 svc/web --timeout=1s
check "its ingress has ipMode VIP" \
    test "$(k get svc web -o jsonpath='{.status.loadBalancer.ingress[0].ipMode}')" = VIP
wait_for "annotation ironlb.io/ip-allocated-from-pool names the pool" 5 \
    test "$(k get svc web -o jsonpath='{.metadata.annotations.ironlb\.io/ip-allocated-from-pool}')" = v4
wait_for "IPAllocated Event on the Service" 5 has_event default web '^Normal IPAllocated .*198\.51\.100\.1'

cat >"$TMP/svcs.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec:
  type: LoadBalancer
  loadBalancerIP: 198.51.100.77
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: outside}
spec:
  type: LoadBalancer
  loadBalancerIP: 192.0.2.10
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: six}
spec:
  type: LoadBalancer
  ipFamilies: [IPv6]
  ipFamilyPolicy: SingleStack
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext-ok}
spec:
  type: ClusterIP
  externalIPs: [203.0.113.5]
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext-bad}
spec:
  type: ClusterIP
  externalIPs: [198.51.100.200]
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: plain}
spec:
  type: ClusterIP
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: extname}
spec:
  type: ExternalName
  externalName: example.org
YAML
check "the other example Services apply" k apply -f "$TMP/svcs.yaml"
wait_for "spec.loadBalancerIP 198.51.100.77 gets exactly it" 5 has_ip default fixed 198.51.100.77
wait_for "an IPv6 SingleStack Service gets an address of the IPv6 pool" 5 has_ip default six 2001:db8:100::
wait_for "an address outside every pool: AllocationFailed Warning" 5 \
    has_event default outside '^Warning AllocationFailed .*192\.0\.2\.10'
check "... and no address" test -z "$(lb_ip default outside)"
wait_for "externalIP outside an allowExternalIPs pool: ExternalIPRejected Warning" 5 \
    has_event default ext-bad '^Warning ExternalIPRejected .*198\.51\.100\.200'
check "a reserved externalIP gets no Event and no status" \
    test -z "$(events_for default ext-ok)$(lb_ip default ext-ok)"

cat >"$TMP/thief.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: thief}
spec:
  type: LoadBalancer
  loadBalancerIP: 203.0.113.5
  ports: [{port: 80}]
YAML
check "a LoadBalancer Service asking for the reserved externalIP is created" k apply -f "$TMP/thief.yaml"
wait_for "... gets AllocationFailed" 5 has_event default thief '^Warning AllocationFailed'
check "... and not the address" test -z "$(lb_ip default thief)"

sleep 1
for s in plain headless extname; do
    check "$s Service is left alone (no status, no Event, no annotation)" \
        test -z "$(lb_ip default $s)$(events_for default $s)$(k get svc $s -o jsonpath='{.metadata.annotations.ironlb\.io/ip-allocated-from-pool}')"
done

# --- pool status --------------------------------------------------------------
k get ipaddresspools -n ironlb-system -o json >"$TMP/pools.json"
check "pool status counts are visible in kubectl get ipaddresspools -o json" \
    "$PY" -c '
import json,sys
d={p["metadata"]["name"]:p.get("status",{}) for p in json.load(open(sys.argv[1]))["items"]}
v4,v6,ext=d["v4"],d["v6"],d["ext"]
assert v4["assignedIPv4"]==2 and v4["availableIPv4"]=="252", v4
assert v6["assignedIPv6"]==1 and v6["availableIPv6"]=="255", v6
assert ext["assignedIPv4"]==1, ext
for s in (v4,v6,ext):
    c=s["conditions"][0]
    assert c["type"]=="Valid" and c["status"]=="True" and c["lastTransitionTime"], c
' "$TMP/pools.json"

# --- metrics ------------------------------------------------------------------
M=$(curl -fsS --max-time 5 "$(ctl_url a /metrics)")
check "metrics: ironlb_pool_addresses" grep -q 'ironlb_pool_addresses{pool="v4",family="ipv4",state="assigned"} 2' <<<"$M"
check "metrics: ironlb_allocation_failures_total" grep -q 'ironlb_allocation_failures_total{reason="NotInPool"}' <<<"$M"
check "metrics: ironlb_reconcile_duration_seconds" grep -q 'ironlb_reconcile_duration_seconds_count' <<<"$M"
check "metrics: API request counts" grep -q 'ironlb_kube_requests_total' <<<"$M"

# --- deletion releases ----------------------------------------------------------
check "deleting the Service with 198.51.100.77" k delete svc fixed --wait=false
cat >"$TMP/taker.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: taker}
spec:
  type: LoadBalancer
  loadBalancerIP: 198.51.100.77
  ports: [{port: 80}]
YAML
check "a new Service asks for 198.51.100.77" k apply -f "$TMP/taker.yaml"
wait_for "... and gets it (deletion released it)" 5 has_ip default taker 198.51.100.77

# --- restart keeps every address and rewrites nothing -------------------------
k get svc -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.loadBalancer.ingress[*].ip} {.metadata.resourceVersion}{"\n"}{end}' | sort >"$TMP/before"
stop_pid "$CTL_A"
check "controller stops on SIGTERM" true
k create service loadbalancer during --tcp=81:81 >/dev/null
start_ctl a --leader-elect=false
wait_for "restarted controller becomes ready" 20 ready a
wait_for "a Service created while it was down gets the next free address" 10 has_ip default during 198.51.100.2
sleep 1
k get svc -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.loadBalancer.ingress[*].ip} {.metadata.resourceVersion}{"\n"}{end}' | grep -v '^default/during ' | sort >"$TMP/after"
check "after the restart every Service keeps its address and none was rewritten" \
    diff "$TMP/before" "$TMP/after"

# --- invalid pool ---------------------------------------------------------------
cat >"$TMP/bad.yaml" <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v4, namespace: ironlb-system}
spec:
  addresses: ["198.51.100.0/24", "198.51.100.5/24"]
  avoidBuggyIPs: true
YAML
check "the v4 pool is edited to be invalid (host bits set)" k apply -f "$TMP/bad.yaml"
wait_for "the pool reports Valid=False naming the entry" 10 "$PY" -c '
import json,subprocess,sys
p=json.loads(subprocess.check_output(["kubectl","get","ipaddresspool","-n","ironlb-system","v4","-o","json"]))
c=p["status"]["conditions"][0]
assert c["status"]=="False" and "spec.addresses[1]" in c["message"], c
assert p["status"]["availableIPv4"]=="0", p["status"]
'
wait_for "an InvalidPool Warning Event on the pool" 5 has_event ironlb-system v4 '^Warning InvalidPool'
check "the invalid pool took no address away" has_ip default web 198.51.100.1
check "... from any Service" has_ip default taker 198.51.100.77
k create service loadbalancer late --tcp=82:82 >/dev/null
wait_for "a new Service gets AllocationFailed while the pool is invalid" 5 has_event default late '^Warning AllocationFailed'

# --- status cleared when a Service stops being a LoadBalancer ---------------------
k apply -f "$TMP/pools.yaml" >/dev/null
wait_for "the fixed pool gives the waiting Service an address" 10 has_ip default late 198.51.100.3
check "web changes to type ClusterIP" k patch svc web --type=merge -p '{"spec":{"type":"ClusterIP"}}'
wait_for "... and its status is cleared" 5 test -z "$(lb_ip default web)"
wait_for "... and 198.51.100.1 is free for others" 10 sh -c "kubectl create service loadbalancer again --tcp=83:83 >/dev/null 2>&1; true"
wait_for "... (next new Service gets it)" 10 has_ip default again 198.51.100.1

check "no address was written twice (one IPAllocated per assignment)" \
    test "$(grep -c 'msg="address assigned"' "$TMP/ctl-a.log")" -eq 7

# --- MetalLB annotation, API faults, relist ---------------------------------------
cat >"$TMP/mlb.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: mlb
  annotations: {metallb.universe.tf/loadBalancerIPs: 198.51.100.90}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
YAML
check "a Service with a metallb.universe.tf/loadBalancerIPs annotation" k apply -f "$TMP/mlb.yaml"
wait_for "... gets the address it asks for" 5 has_ip default mlb 198.51.100.90
wait_for "... and a Normal Event suggesting the ironlb.io/ key" 5 \
    has_event default mlb '^Normal DeprecatedAnnotation .*ironlb\.io/loadBalancerIPs'

echo '{"errorPercent":100,"errorCount":3,"methods":["PATCH","PUT"],"pathPrefix":"/api/v1/namespaces/default/services"}' >"$TMP/fault.json"
check "kube-sim fails the next 3 Service writes with 500" k create --raw /sim/v1/faults -f "$TMP/fault.json"
k create service loadbalancer faulty --tcp=84:84 >/dev/null
wait_for "a failed status write is retried: the Service still gets an address" 10 \
    sh -c "[ -n \"\$(kubectl get svc faulty -o jsonpath='{.status.loadBalancer.ingress[0].ip}')\" ]"
echo '{"compact":true,"dropWatches":true}' >"$TMP/compact.json"
check "kube-sim compacts its history and drops every watch" k create --raw /sim/v1/faults -f "$TMP/compact.json"
k delete svc faulty --wait=false >/dev/null
sed 's/name: taker/name: relisted/; s/198.51.100.77/198.51.100.91/' "$TMP/taker.yaml" | k apply -f - >/dev/null
wait_for "after the relist the controller keeps allocating" 15 has_ip default relisted 198.51.100.91

# --- --ip-mode proxy -----------------------------------------------------------------
stop_pid "$CTL_PID"
start_ctl a --leader-elect=false --ip-mode=proxy
wait_for "a controller restarted with --ip-mode=proxy rewrites ipMode to Proxy" 15 \
    test "$(k get svc taker -o jsonpath='{.status.loadBalancer.ingress[0].ipMode}')" = Proxy
check "... keeping the address" has_ip default taker 198.51.100.77
check "controller is still running" kill -0 "$CTL_PID"
if grep -q 'level=error' "$TMP"/ctl-a.log; then
    not_ok "controller logged no error" "$(grep 'level=error' "$TMP"/ctl-a.log)"
else ok "controller logged no error"; fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
