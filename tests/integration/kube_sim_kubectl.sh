#!/usr/bin/env bash
# kube_sim_kubectl.sh - the real kubectl against kube-sim over HTTPS, with the
# kubeconfig kube-sim writes: CRDs and custom resources, client-side apply
# and re-apply (strategic merge) of a LoadBalancer Service, merge patches,
# status patches and `kubectl wait`, -o json/yaml/wide, watch, typed
# (protobuf) creates, namespaces, deletion, and authentication failures.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u

BUILD=${IRONLB_BUILD:-$PWD/build}
SIM=$BUILD/bin/kube-sim
TMP=$(mktemp -d /tmp/kube-sim-kubectl.XXXXXX)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
SIM_PID=
BG_PIDS=()

cleanup() {
    for p in "${BG_PIDS[@]}" $SIM_PID; do kill "$p" 2>/dev/null; done
    for p in "${BG_PIDS[@]}" $SIM_PID; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() {
    N=$((N + 1)); FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | head -c 3000 | sed 's/^/#   /'; echo; done
}
bail() { not_ok "$1" "${2:-}"; echo "1..$N"; exit 1; }

# Every kubectl call is bounded in time and uses a private cache dir.
export HOME=$TMP/home
export KUBECONFIG=$TMP/kubeconfig
mkdir -p "$HOME"
k() { timeout 60 kubectl --request-timeout=30s "$@"; }

# check DESC CMD...: ok when CMD succeeds; shows its output otherwise.
check() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
# check_out DESC REGEX CMD...: ok when CMD succeeds and its output matches.
check_out() {
    local desc=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1) && grep -Eq -- "$re" <<<"$out"; then ok "$desc"; else not_ok "$desc" "wanted /$re/" "$out"; fi
}
# check_fail DESC REGEX CMD...: ok when CMD fails and its output matches.
check_fail() {
    local desc=$1 re=$2 out
    shift 2
    if ! out=$("$@" 2>&1) && grep -Eq -- "$re" <<<"$out"; then ok "$desc"; else not_ok "$desc" "wanted a failure matching /$re/" "$out"; fi
}
# jcheck DESC FILE EXPR: ok when the Python expression (d = JSON) is true.
jcheck() {
    local desc=$1 file=$2 expr=$3 out
    if out=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2].strip() + ")") else 1)' "$file" "$expr" 2>&1); then
        ok "$desc"
    else not_ok "$desc" "expression: $expr" "$out" "$(head -c 3000 "$file")"; fi
}

command -v kubectl >/dev/null || bail "kubectl is installed"
[ -x "$SIM" ] || bail "kube-sim binary exists at $SIM" "build it first (see docs/kube-sim.md)"

"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG" >"$TMP/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 100); do
    [ -s "$KUBECONFIG" ] && break
    kill -0 "$SIM_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$KUBECONFIG" ] || bail "kube-sim starts and writes a kubeconfig" "$(cat "$TMP/sim.log")"
SERVER=$(awk '/server:/ {print $2}' "$KUBECONFIG")
ok "kube-sim serves $SERVER and wrote a kubeconfig"

check_out "kubectl version talks to the server over HTTPS" 'Server Version: v1\.32' k version
check_out "kubectl get namespaces lists the built-in namespaces" 'kube-node-lease +Active' k get namespaces
check_out "kubectl get --raw /healthz" '^ok$' k get --raw /healthz

# --- CRD and custom resources ------------------------------------------------
cat >"$TMP/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ipaddresspools.ironlb.io
spec:
  group: ironlb.io
  scope: Namespaced
  names:
    kind: IPAddressPool
    listKind: IPAddressPoolList
    plural: ipaddresspools
    singular: ipaddresspool
    shortNames: [ipp]
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Addresses
      type: string
      jsonPath: .spec.addresses
    - name: Auto Assign
      type: boolean
      jsonPath: .spec.autoAssign
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [addresses]
            properties:
              addresses:
                type: array
                items:
                  type: string
              autoAssign:
                type: boolean
                default: true
              allowExternalIPs:
                type: boolean
          status:
            type: object
            properties:
              assignedIPv4:
                type: integer
EOF
check_out "kubectl apply -f a CRD" 'customresourcedefinition.apiextensions.k8s.io/ipaddresspools.ironlb.io created' k apply -f "$TMP/crd.yaml"
check_out "kubectl wait for the CRD to be Established" 'condition met' k wait --for=condition=Established crd/ipaddresspools.ironlb.io --timeout=20s
cat >"$TMP/pool.yaml" <<'EOF'
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool-a
  namespace: default
spec:
  addresses:
  - 198.51.100.0/24
EOF
check_out "kubectl apply -f a custom resource of the new kind" 'ipaddresspool.ironlb.io/pool-a created' k apply -f "$TMP/pool.yaml"
k get ipaddresspool pool-a -o json >"$TMP/pool.json" 2>&1
jcheck "kubectl get the custom resource back (schema default applied)" "$TMP/pool.json" \
    'd["kind"]=="IPAddressPool" and d["spec"]["addresses"]==["198.51.100.0/24"] and d["spec"]["autoAssign"] is True and d["metadata"]["generation"]==1'
check_out "kubectl get with the short name uses the CRD printer columns" 'NAME +ADDRESSES +AUTO ASSIGN +AGE' k get ipp
check_out "kubectl api-resources lists the custom resource" 'ipaddresspools +ipp +ironlb.io/v1beta1 +true +IPAddressPool' k api-resources --api-group=ironlb.io
cat >>"$TMP/pool.yaml" <<'EOF'
  - 2001:db8:1::/120
  allowExternalIPs: true
EOF
check_out "kubectl re-apply the custom resource (merge patch)" 'ipaddresspool.ironlb.io/pool-a configured' k apply -f "$TMP/pool.yaml"
k get ipp pool-a -o json >"$TMP/pool.json" 2>&1
jcheck "... the change is stored and generation bumped" "$TMP/pool.json" \
    'd["spec"]["addresses"]==["198.51.100.0/24","2001:db8:1::/120"] and d["spec"]["allowExternalIPs"] is True and d["metadata"]["generation"]==2'
check_out "kubectl patch --subresource=status on a custom resource" 'patched' k patch ipp pool-a --subresource=status --type=merge -p '{"status":{"assignedIPv4":1}}'
k get ipp pool-a -o json >"$TMP/pool.json" 2>&1
jcheck "... status changed, generation did not" "$TMP/pool.json" 'd["status"]["assignedIPv4"]==1 and d["metadata"]["generation"]==2'
check_fail "server-side validation rejects an unknown field (kubectl --validate=strict)" 'unknown field "spec.bogus"' \
    k apply -f - <<<'{"apiVersion":"ironlb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"pool-b"},"spec":{"addresses":[],"bogus":1}}'
check_fail "schema validation errors come back as 422 Invalid" 'spec.addresses.*must be of type array' \
    k apply -f - <<<'{"apiVersion":"ironlb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"pool-c"},"spec":{"addresses":"x"}}'

# --- a LoadBalancer Service, as a user writes it ---------------------------------
cat >"$TMP/svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
EOF
check_out "kubectl apply -f a LoadBalancer Service" 'service/web created' k apply -f "$TMP/svc.yaml"
k get svc web -o json >"$TMP/svc.json" 2>&1
jcheck "the Service got the server defaults" "$TMP/svc.json" '
    (lambda s, p: s["clusterIP"].startswith("203.0.113.") and s["clusterIPs"]==[s["clusterIP"]]
     and s["ipFamilies"]==["IPv4"] and s["ipFamilyPolicy"]=="SingleStack" and s["sessionAffinity"]=="None"
     and s["internalTrafficPolicy"]=="Cluster" and s["externalTrafficPolicy"]=="Cluster"
     and s["allocateLoadBalancerNodePorts"] is True and p["protocol"]=="TCP" and p["targetPort"]==8080
     and 30000 <= p["nodePort"] <= 32767 and "healthCheckNodePort" not in s
     and d["status"]=={"loadBalancer":{}})(d["spec"], d["spec"]["ports"][0])'
NODEPORT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["spec"]["ports"][0]["nodePort"])' "$TMP/svc.json" 2>/dev/null)
CLUSTERIP=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["spec"]["clusterIP"])' "$TMP/svc.json" 2>/dev/null)
cat >"$TMP/svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
    tier: frontend
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: https
    port: 443
    targetPort: 8443
EOF
check_out "kubectl re-apply the changed Service (client-side apply, strategic merge)" 'service/web configured' k apply -f "$TMP/svc.yaml"
k get svc web -o json >"$TMP/svc.json" 2>&1
jcheck "... ports merged by port, allocated values kept, health check port added" "$TMP/svc.json" "
    [(p['name'], p['port']) for p in d['spec']['ports']]==[('http',80),('https',443)]
    and d['spec']['ports'][0]['nodePort']==$NODEPORT and d['spec']['clusterIP']=='$CLUSTERIP'
    and d['spec']['ports'][1]['nodePort']!=$NODEPORT and d['spec']['healthCheckNodePort']>0
    and d['metadata']['labels']=={'app':'web','tier':'frontend'} and d['metadata']['generation']==2
    and '443' in d['metadata']['annotations']['kubectl.kubernetes.io/last-applied-configuration']"
RV=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$TMP/svc.json" 2>/dev/null)
check_out "kubectl apply of the same manifest is a no-op" 'service/web unchanged' k apply -f "$TMP/svc.yaml"
check_out "... and keeps the resourceVersion" "^$RV\$" k get svc web -o 'jsonpath={.metadata.resourceVersion}'
check_out "kubectl patch --type=merge" 'service/web patched' k patch svc web --type=merge -p '{"metadata":{"annotations":{"ironlb.io/address-pool":"pool-a"}},"spec":{"loadBalancerIP":"198.51.100.10"}}'
check_out "... the patch is stored" '^pool-a 198\.51\.100\.10$' k get svc web -o 'jsonpath={.metadata.annotations.ironlb\.io/address-pool} {.spec.loadBalancerIP}'
check_fail "an invalid patch is refused with the field named" 'spec\.ports\[0\]\.port: Invalid value: 0' k patch svc web --type=json -p '[{"op":"replace","path":"/spec/ports/0/port","value":0}]'
check_out "kubectl get -o yaml" '^kind: Service$' k get svc web -o yaml
check_out "kubectl get -o wide shows the selector column" 'web +LoadBalancer +203\.0\.113\.[0-9]+ +<pending> +80:[0-9]+/TCP,443:[0-9]+/TCP +[0-9]+s +app=web' k get svc -o wide
check_out "kubectl describe service" 'External Traffic Policy: +Local' k describe svc web

# kubectl wait on a jsonpath while the status is patched in the background
(sleep 1; k patch svc web --subresource=status --type=merge -p '{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.10"}]}}}' >"$TMP/bgpatch.out" 2>&1) &
BG_PIDS+=($!)
check_out "kubectl wait --for=jsonpath= succeeds after a background status patch" 'condition met' \
    k wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=198.51.100.10 svc/web --timeout=20s
wait "${BG_PIDS[-1]}" 2>/dev/null
check_out "... the background kubectl patch --subresource=status succeeded" 'service/web patched' cat "$TMP/bgpatch.out"
check_out "kubectl get -o wide shows the external IP" 'web +LoadBalancer +[0-9.]+ +198\.51\.100\.10 ' k get svc web -o wide
check_out "status defaulting: ipMode VIP" '^VIP$' k get svc web -o 'jsonpath={.status.loadBalancer.ingress[0].ipMode}'
k patch svc web --type=merge -p '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1"}]}}}' >/dev/null 2>&1
check_out "a status change through the main resource is ignored" '^198\.51\.100\.10$' k get svc web -o 'jsonpath={.status.loadBalancer.ingress[0].ip}'

# kubectl get --watch sees a change
(sleep 1.5; k label svc web watched=yes >/dev/null 2>&1) &
BG_PIDS+=($!)
timeout 8 kubectl get svc web --watch --output-watch-events --request-timeout=5s >"$TMP/watch.out" 2>&1
wait "${BG_PIDS[-1]}" 2>/dev/null
check_out "kubectl get --watch streams the change" 'MODIFIED +web +LoadBalancer' cat "$TMP/watch.out"

# --- typed clients (protobuf request bodies), namespaces, other resources --------
check_out "kubectl create namespace" 'namespace/ironlb-test created' k create namespace ironlb-test
check_out "... it is Active and labelled" '^Active ironlb-test$' k get ns ironlb-test -o 'jsonpath={.status.phase} {.metadata.labels.kubernetes\.io/metadata\.name}'
check_out "kubectl create secret generic" 'secret/memberlist created' k -n ironlb-test create secret generic memberlist --from-literal=secretkey=s3cret
check_out "... the secret data is base64 encoded" '^czNjcmV0$' k -n ironlb-test get secret memberlist -o 'jsonpath={.data.secretkey}'
check_out "kubectl create configmap" 'configmap/cfg created' k -n ironlb-test create configmap cfg --from-literal=a=b
check_out "kubectl create service nodeport" 'service/np created' k -n ironlb-test create service nodeport np --tcp=8080:80
cat >"$TMP/lease.yaml" <<'EOF'
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: node-a
  namespace: ironlb-test
spec:
  holderIdentity: node-a
  leaseDurationSeconds: 15
  renewTime: "2025-01-01T00:00:00.000000Z"
EOF
check_out "kubectl apply a Lease" 'lease.coordination.k8s.io/node-a created' k apply -f "$TMP/lease.yaml"
check_out "kubectl get leases shows the holder" 'node-a +node-a' k -n ironlb-test get leases
check_out "kubectl get all in the namespace" 'service/np +NodePort' k -n ironlb-test get all
check_fail "creating in a missing namespace fails with NotFound" 'namespaces "nowhere" not found' k -n nowhere create configmap x

# --- deletion ------------------------------------------------------------------------
check_out "kubectl delete service" 'service "web" deleted' k delete svc web
check_fail "... it is gone" 'NotFound.*services "web" not found' k get svc web
check_out "kubectl delete namespace (waits for the content to go)" 'namespace "ironlb-test" deleted' k delete namespace ironlb-test --timeout=30s
check_fail "... the namespace is gone" 'namespaces "ironlb-test" not found' k get ns ironlb-test
check_out "kubectl delete the CRD" 'customresourcedefinition.apiextensions.k8s.io "ipaddresspools.ironlb.io" deleted' k delete -f "$TMP/crd.yaml"
check_fail "... the custom resource type is no longer served" "doesn't have a resource type \"ipaddresspools\"|ipaddresspools\": the server could not find the requested resource" k get ipaddresspools

# --- authentication --------------------------------------------------------------------
check_fail "a wrong token is refused (401 Unauthorized)" 'Unauthorized' k --token=wrong-token get namespaces
CA=$TMP/ca.crt
awk '/certificate-authority-data:/ {print $2}' "$KUBECONFIG" | base64 -d >"$CA"
code=$(curl -sS --max-time 10 --cacert "$CA" -o "$TMP/401.json" -w '%{http_code}' "$SERVER/api/v1/namespaces")
if [ "$code" = 401 ]; then
    jcheck "no token: 401 with a metav1.Status body" "$TMP/401.json" 'd["kind"]=="Status" and d["code"]==401 and d["reason"]=="Unauthorized"'
else not_ok "no token: 401 with a metav1.Status body" "HTTP $code"; fi

echo "1..$N"
[ $FAILED -eq 0 ] || echo "# $FAILED of $N checks failed"
[ $FAILED -eq 0 ]
