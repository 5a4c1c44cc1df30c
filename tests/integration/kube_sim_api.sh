#!/usr/bin/env bash
# kube_sim_api.sh - curl-driven checks of kube-sim's API semantics: watch
# (initial ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410 after compaction),
# pagination, label and field selectors, 409/404/422, status subresource
# isolation, finalizers, fault injection, HTTP/2, --state across restarts
# (SIGTERM and SIGKILL), --help and bad flags, --plain-http.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u

BUILD=${IRONLB_BUILD:-$PWD/build}
SIM=$BUILD/bin/kube-sim
TMP=$(mktemp -d /tmp/kube-sim-api.XXXXXX)
# Debian's interpreter starts much faster than a pyenv shim.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
SIM_PID=
PLAIN_PID=
BG_PIDS=()

cleanup() {
    for p in "${BG_PIDS[@]}" $PLAIN_PID $SIM_PID; do
        kill "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}" $PLAIN_PID $SIM_PID; do
        wait "$p" 2>/dev/null
    done
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
    for l in "$@"; do printf '%s\n' "$l" | head -c 2000 | sed 's/^/#   /'; echo; done
}
# check DESC CMD...: ok when CMD succeeds; its output is shown on failure.
check() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
bail() { not_ok "$1" "${2:-}"; echo "1..$N"; exit 1; }

# jpy FILE EXPR: evaluate a Python expression with d = the parsed JSON file.
jpy() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1" "$2"
}
# events FILE: the types (and object names) of a newline-delimited watch stream.
events() {
    "$PY" -c '
import json,sys
for l in open(sys.argv[1]):
    l=l.strip()
    if not l: continue
    e=json.loads(l); o=e["object"]
    print(e["type"], o.get("metadata",{}).get("name",""))' "$1"
}

# start_sim PORT STATEFILE [extra flags]: start kube-sim, wait for its kubeconfig.
start_sim() {
    local port=$1 state=$2
    shift 2
    rm -f "$TMP/kubeconfig"
    "$SIM" --listen "127.0.0.1:$port" --kubeconfig-out "$TMP/kubeconfig" --state "$state" \
        --bookmark-interval 1s --history 200 "$@" >>"$TMP/sim.log" 2>&1 &
    SIM_PID=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$TMP/kubeconfig" ] && break
        kill -0 "$SIM_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    [ -s "$TMP/kubeconfig" ] || return 1
    SERVER=$(awk '/server:/ {print $2}' "$TMP/kubeconfig")
    TOKEN=$(awk '/token:/ {print $2}' "$TMP/kubeconfig")
    awk '/certificate-authority-data:/ {print $2}' "$TMP/kubeconfig" | base64 -d >"$TMP/ca.crt"
    PORT=${SERVER##*:}
}

stop_sim() { # stop_sim SIGNAL: returns the exit status of kube-sim
    local sig=$1 rc
    kill "-$sig" "$SIM_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$SIM_PID" 2>/dev/null
    rc=$?
    SIM_PID=
    return $rc
}

# api METHOD PATH [BODY [CONTENT-TYPE]]: response body in $TMP/out, headers in
# $TMP/hdr; prints the HTTP status.
api() {
    local method=$1 path=$2 body=${3-} ct=${4:-application/json}
    local args=(-sS --max-time 20 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN"
        -o "$TMP/out" -D "$TMP/hdr" -w '%{http_code}' -X "$method")
    if [ -n "$body" ]; then args+=(-H "Content-Type: $ct" --data-binary "$body"); fi
    curl "${args[@]}" "$SERVER$path"
}

# expect_code DESC WANT METHOD PATH [BODY [CT]]
expect_code() {
    local desc=$1 want=$2 code
    shift 2
    code=$(api "$@")
    if [ "$code" = "$want" ]; then ok "$desc"; else not_ok "$desc" "HTTP $code, want $want" "$(cat "$TMP/out" 2>/dev/null)"; fi
}

# watch_bg FILE PATH-AND-QUERY: run a watch in the background into FILE.
watch_bg() {
    curl -sS -N --max-time 30 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER$2" >"$1" 2>"$1.err" &
    BG_PIDS+=($!)
    WATCH_PID=$!
}

wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
    local t=$1
    shift
    local end=$((SECONDS + t))
    while [ $SECONDS -le $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    "$@"
}

watch_count() { # wait until the number of watches reported by /sim/v1/stats is >= N
    api GET /sim/v1/stats >/dev/null && [ "$(jpy "$TMP/out" 'd["watches"]')" -ge "$1" ]
}

[ -x "$SIM" ] || bail "kube-sim binary exists at $SIM" "build it first (see docs/kube-sim.md)"
STATE=$TMP/state.json

# --- command line ----------------------------------------------------------
out=$("$SIM" --help 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q -- "--kubeconfig-out" <<<"$out" && grep -q -- "--state" <<<"$out" && grep -q -- "--history" <<<"$out"; then
    ok "--help exits 0 and lists the flags"
else not_ok "--help exits 0 and lists the flags" "rc=$rc" "$out"; fi
out=$("$SIM" --no-such-flag 2>&1)
rc=$?
if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && grep -q "no-such-flag" <<<"$out"; then
    ok "a bad flag exits 2 with a one-line error naming it"
else not_ok "a bad flag exits 2 with a one-line error naming it" "rc=$rc" "$out"; fi
out=$("$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$TMP/x" --service-cluster-ip-range 2001:db8::/64 2>&1)
rc=$?
if [ $rc -eq 2 ]; then ok "an IPv6 service range larger than /108 is rejected with exit 2"; else not_ok "an IPv6 service range larger than /108 is rejected with exit 2" "rc=$rc" "$out"; fi

# --- start -------------------------------------------------------------------
start_sim 0 "$STATE" || bail "kube-sim starts and writes its kubeconfig" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT and writes its kubeconfig"

code=$(curl -sS --max-time 10 --cacert "$TMP/ca.crt" -o "$TMP/out" -w '%{http_code}' "$SERVER/healthz")
[ "$code" = 200 ] && [ "$(cat "$TMP/out")" = ok ] && ok "/healthz answers ok without a token" || not_ok "/healthz answers ok" "HTTP $code"

v=$(curl -sS --max-time 10 --http2 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_version}' "$SERVER/version")
[ "$v" = 2 ] && ok "HTTP/2 is negotiated over TLS (ALPN)" || not_ok "HTTP/2 is negotiated over TLS (ALPN)" "http_version=$v"
v=$(curl -sS --max-time 10 --http1.1 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_version}' "$SERVER/version")
[ "$v" = 1.1 ] && ok "HTTP/1.1 is served too" || not_ok "HTTP/1.1 is served too" "http_version=$v"
for host in localhost '[::1]'; do
    if curl -sS --max-time 10 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null --connect-to "$host:$PORT:127.0.0.1:$PORT" "https://$host:$PORT/version"; then
        ok "the server certificate is valid for $host"
    else not_ok "the server certificate is valid for $host"; fi
done

code=$(curl -sS --max-time 10 --cacert "$TMP/ca.crt" -o "$TMP/out" -w '%{http_code}' "$SERVER/api/v1/namespaces")
if [ "$code" = 401 ] && [ "$(jpy "$TMP/out" 'd["kind"]+"/"+d["reason"]')" = Status/Unauthorized ]; then
    ok "no token: 401 with a Status body"
else not_ok "no token: 401 with a Status body" "HTTP $code $(cat "$TMP/out")"; fi
code=$(curl -sS --max-time 10 --cacert "$TMP/ca.crt" -H "Authorization: Bearer wrong" -o "$TMP/out" -w '%{http_code}' "$SERVER/api/v1/namespaces")
[ "$code" = 401 ] && ok "wrong token: 401" || not_ok "wrong token: 401" "HTTP $code"

api GET /api/v1/namespaces >/dev/null
[ "$(jpy "$TMP/out" 'sorted(i["metadata"]["name"] for i in d["items"])')" = '["default", "kube-node-lease", "kube-public", "kube-system"]' ] &&
    ok "the built-in namespaces exist" || not_ok "the built-in namespaces exist" "$(cat "$TMP/out")"

# --- writes and errors ---------------------------------------------------------
SVC=/api/v1/namespaces/default/services
expect_code "POST creates a Service (201)" 201 POST $SVC '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}'
RV1=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
[[ "$RV1" =~ ^[0-9]+$ ]] && ok "resourceVersion is a decimal string ($RV1)" || not_ok "resourceVersion is a decimal string" "$RV1"
got=$(jpy "$TMP/out" '[d["spec"]["clusterIP"].startswith("203.0.113."), d["spec"]["ipFamilies"], d["spec"]["ports"][0]["protocol"], 30000<=d["spec"]["ports"][0]["nodePort"]<=32767, d["spec"]["externalTrafficPolicy"], d["metadata"]["generation"], bool(d["metadata"]["uid"])]')
[ "$got" = '[true, ["IPv4"], "TCP", true, "Cluster", 1, true]' ] && ok "Service defaults: clusterIP, ipFamilies, protocol, nodePort, eTP, generation, uid" || not_ok "Service defaults" "$got"

expect_code "duplicate create: 409" 409 POST $SVC '{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}'
[ "$(jpy "$TMP/out" 'd["reason"]')" = AlreadyExists ] && ok "duplicate create: reason AlreadyExists" || not_ok "duplicate create: reason AlreadyExists" "$(cat "$TMP/out")"

expect_code "merge patch of the Service (200)" 200 PATCH $SVC/web '{"metadata":{"labels":{"tier":"front"}}}' application/merge-patch+json
RV2=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
[ "$RV2" -gt "$RV1" ] && ok "resourceVersion increases on update ($RV1 -> $RV2)" || not_ok "resourceVersion increases" "$RV1 -> $RV2"

expect_code "PUT with a stale resourceVersion: 409" 409 PUT $SVC/web "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"$RV1\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80}]}}"
[ "$(jpy "$TMP/out" 'd["reason"]')" = Conflict ] && ok "stale PUT: reason Conflict" || not_ok "stale PUT: reason Conflict" "$(cat "$TMP/out")"

expect_code "GET of a missing object: 404" 404 GET $SVC/nope
[ "$(jpy "$TMP/out" 'd["reason"]+" "+d["message"]')" = 'NotFound services "nope" not found' ] && ok "404 Status: NotFound with the real message" || not_ok "404 Status" "$(cat "$TMP/out")"

expect_code "create in a missing namespace: 404" 404 POST /api/v1/namespaces/ghost/configmaps '{"metadata":{"name":"c"}}'

expect_code "invalid Service port: 422" 422 POST $SVC '{"metadata":{"name":"bad"},"spec":{"ports":[{"port":70000}]}}'
got=$(jpy "$TMP/out" '[d["reason"], d["details"]["causes"][0]["field"], d["details"]["kind"], d["details"]["name"]]')
[ "$got" = '["Invalid", "spec.ports[0].port", "Service", "bad"]' ] && ok "422 Invalid names the field in details.causes" || not_ok "422 Invalid names the field" "$got"
expect_code "invalid status ingress IP: 422" 422 PATCH $SVC/web/status '{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.300"}]}}}' application/merge-patch+json

api GET $SVC/web >/dev/null
NP80=$(jpy "$TMP/out" 'd["spec"]["ports"][0]["nodePort"]')
expect_code "strategic merge patch names port 80 (merge key port)" 200 PATCH $SVC/web '{"spec":{"ports":[{"name":"http","port":80}]}}' application/strategic-merge-patch+json
expect_code "strategic merge patch adds port 443 with \$setElementOrder" 200 PATCH $SVC/web '{"spec":{"$setElementOrder/ports":[{"port":443},{"port":80}],"ports":[{"name":"https","port":443}]}}' application/strategic-merge-patch+json
got=$(jpy "$TMP/out" '[(p["name"], p["port"], p["targetPort"]) for p in d["spec"]["ports"]] + [d["spec"]["ports"][1]["nodePort"]]')
[ "$got" = "[[\"https\", 443, 443], [\"http\", 80, 8080], $NP80]" ] && ok "strategic merge kept port 80 (and its nodePort), added 443 in the given order" || not_ok "strategic merge of ports" "$got"
expect_code "JSON patch (application/json-patch+json)" 200 PATCH $SVC/web '[{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}]' application/json-patch+json

expect_code "dryRun=All create answers 201" 201 POST "$SVC?dryRun=All" '{"metadata":{"name":"dry"},"spec":{"ports":[{"port":80}]}}'
expect_code "... and stores nothing" 404 GET $SVC/dry

# --- status subresource --------------------------------------------------------
api GET $SVC/web >/dev/null
GEN=$(jpy "$TMP/out" 'd["metadata"]["generation"]')
api PATCH $SVC/web/status '{"spec":{"type":"ClusterIP"},"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.10"}]}}}' application/merge-patch+json >/dev/null
got=$(jpy "$TMP/out" '[d["spec"]["type"], d["status"]["loadBalancer"]["ingress"], d["metadata"]["generation"]]')
[ "$got" = "[\"LoadBalancer\", [{\"ip\": \"198.51.100.10\", \"ipMode\": \"VIP\"}], $GEN]" ] &&
    ok "a /status write changes only status (ipMode defaulted, generation kept)" || not_ok "a /status write changes only status" "$got"
api PATCH $SVC/web '{"spec":{"externalTrafficPolicy":"Local"},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.99"}]}}}' application/merge-patch+json >/dev/null
got=$(jpy "$TMP/out" '[d["status"]["loadBalancer"]["ingress"][0]["ip"], d["metadata"]["generation"] > '"$GEN"', d["spec"]["healthCheckNodePort"] > 0]')
[ "$got" = '["198.51.100.10", true, true]' ] &&
    ok "a main-resource write ignores status and bumps generation on a spec change" || not_ok "a main-resource write ignores status" "$got"

# --- finalizers ------------------------------------------------------------------
CM=/api/v1/namespaces/default/configmaps
expect_code "create an object with a finalizer" 201 POST $CM '{"metadata":{"name":"held","finalizers":["ironlb.io/test"]}}'
expect_code "DELETE of an object with a finalizer: 200" 200 DELETE $CM/held '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}'
[ -n "$(jpy "$TMP/out" 'd["metadata"].get("deletionTimestamp","")')" ] && ok "... it gets a deletionTimestamp" || not_ok "... it gets a deletionTimestamp" "$(cat "$TMP/out")"
expect_code "... and is kept while the finalizer is there" 200 GET $CM/held
expect_code "removing the finalizer (200)" 200 PATCH $CM/held '{"metadata":{"finalizers":null}}' application/merge-patch+json
expect_code "... deletes the object" 404 GET $CM/held

# --- watch -------------------------------------------------------------------------
api GET $CM >/dev/null
LRV=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
watch_bg "$TMP/w1" "$CM?watch=1&allowWatchBookmarks=true&timeoutSeconds=4&resourceVersion=$LRV"
W1=$WATCH_PID
watch_bg "$TMP/w2" "/api/v1/namespaces/default/services?watch=true&timeoutSeconds=3"
W2=$WATCH_PID
wait_for 10 watch_count 2 || not_ok "watches are registered" "$(cat "$TMP/out")"
api POST $CM '{"metadata":{"name":"w"},"data":{"k":"1"}}' >/dev/null
api PATCH $CM/w '{"data":{"k":"2"}}' application/merge-patch+json >/dev/null
api DELETE $CM/w >/dev/null
t0=$SECONDS
wait "$W1" 2>/dev/null
wait "$W2" 2>/dev/null
el=$((SECONDS - t0))
[ "$(events "$TMP/w1" | grep -v BOOKMARK | tr '\n' ' ')" = "ADDED w MODIFIED w DELETED w " ] &&
    ok "watch from a resourceVersion streams ADDED, MODIFIED, DELETED" || not_ok "watch streams ADDED, MODIFIED, DELETED" "$(cat "$TMP/w1" "$TMP/w1.err")"
got=$("$PY" -c '
import json,sys
bm=[json.loads(l) for l in open(sys.argv[1]) if "BOOKMARK" in l]
print(len(bm)>0 and all(set(b["object"]["metadata"])<= {"resourceVersion","creationTimestamp"} and b["object"]["kind"]=="ConfigMap" for b in bm))' "$TMP/w1")
[ "$got" = True ] && ok "allowWatchBookmarks: BOOKMARK events carry only kind/apiVersion/resourceVersion" || not_ok "BOOKMARK events" "$(cat "$TMP/w1")"
[ $el -le 6 ] && ok "timeoutSeconds ends the watch stream cleanly" || not_ok "timeoutSeconds ends the watch stream" "took ${el}s"
[ "$(events "$TMP/w2" | head -2 | tr '\n' ' ')" = "ADDED kubernetes ADDED web " ] &&
    ok "watch without resourceVersion starts with ADDED for existing objects" || not_ok "initial ADDED events" "$(cat "$TMP/w2")"
grep -qi 'transfer-encoding: chunked' < <(curl -sS -N --max-time 5 --http1.1 -D - -o /dev/null --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER$CM?watch=1&timeoutSeconds=1") &&
    ok "watch responses use chunked transfer encoding (HTTP/1.1)" || not_ok "watch responses use chunked transfer encoding"

# single object watch via the field selector, and via the legacy /watch/ path
watch_bg "$TMP/w3" "/api/v1/watch/namespaces/default/services/web?timeoutSeconds=2"
wait "$WATCH_PID" 2>/dev/null
[ "$(events "$TMP/w3" | tr '\n' ' ')" = "ADDED web " ] && ok "legacy /watch/ path for one object" || not_ok "legacy /watch/ path" "$(cat "$TMP/w3")"

# compaction -> 410
expect_code "fault endpoint: compact history" 200 POST /sim/v1/faults '{"compact":true}'
watch_bg "$TMP/w4" "$CM?watch=1&resourceVersion=$LRV"
wait "$WATCH_PID" 2>/dev/null
got=$("$PY" -c '
import json,sys
e=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
o=e[0]["object"]
print(e[0]["type"], o["kind"], o["code"], o["reason"])' "$TMP/w4" 2>&1)
[ "$got" = "ERROR Status 410 Expired" ] && ok "watch from a compacted resourceVersion: ERROR event, Status 410 Expired" || not_ok "watch after compaction: ERROR 410" "$got" "$(cat "$TMP/w4")"

# --- lists: pagination and selectors ------------------------------------------------
for i in 1 2 3 4 5 6 7; do
    tier=$([ $((i % 2)) -eq 0 ] && echo even || echo odd)
    extra=$([ $i -le 2 ] && echo ',"special":"yes"' || echo '')
    api POST $CM "{\"metadata\":{\"name\":\"p$i\",\"labels\":{\"set\":\"pg\",\"tier\":\"$tier\"$extra}}}" >/dev/null
done
api GET "$CM?labelSelector=set%3Dpg&limit=3" >/dev/null
names=$(jpy "$TMP/out" '[i["metadata"]["name"] for i in d["items"]]')
CONT=$(jpy "$TMP/out" 'd["metadata"].get("continue","")')
PRV=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
[ "$names" = '["p1", "p2", "p3"]' ] && [ -n "$CONT" ] && ok "limit=3 returns 3 items and a continue token" || not_ok "limit=3 page" "$(cat "$TMP/out")"
api POST $CM '{"metadata":{"name":"p35","labels":{"set":"pg"}}}' >/dev/null
all=$names
pages=1
while [ -n "$CONT" ] && [ $pages -lt 10 ]; do
    api GET "$CM?labelSelector=set%3Dpg&limit=3&continue=$CONT" >/dev/null
    all="$all $(jpy "$TMP/out" '[i["metadata"]["name"] for i in d["items"]]')"
    [ "$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')" = "$PRV" ] || not_ok "continued pages keep the list resourceVersion"
    CONT=$(jpy "$TMP/out" 'd["metadata"].get("continue","")')
    pages=$((pages + 1))
done
[ "$all" = '["p1", "p2", "p3"] ["p4", "p5", "p6"] ["p7"]' ] &&
    ok "continue walks all pages of a consistent snapshot (a later create is not seen)" || not_ok "pagination" "$all"
api GET "$CM?limit=2" >/dev/null
OLDCONT=$(jpy "$TMP/out" 'd["metadata"]["continue"]')
api POST $CM '{"metadata":{"name":"later"}}' >/dev/null
api POST /sim/v1/faults '{"compact":true}' >/dev/null
expect_code "an expired continue token: 410" 410 GET "$CM?limit=2&continue=$OLDCONT"
[ "$(jpy "$TMP/out" 'd["reason"]')" = Expired ] && ok "... with reason Expired" || not_ok "... with reason Expired" "$(cat "$TMP/out")"

count() { # count QUERY: number of items of a configmap list
    api GET "$CM?$1" >/dev/null && jpy "$TMP/out" 'len(d["items"])'
}
for q in "labelSelector=tier%3Dodd:4" "labelSelector=tier%3D%3Deven:3" "labelSelector=set%3Dpg,tier!%3Dodd:4" \
    "labelSelector=tier%20in%20(odd,even):7" "labelSelector=set%3Dpg,tier%20notin%20(odd):4" \
    "labelSelector=special:2" "labelSelector=set%3Dpg,!special:6" "fieldSelector=metadata.name%3Dp3:1" \
    "fieldSelector=metadata.name!%3Dp3,metadata.namespace%3Ddefault&labelSelector=set%3Dpg:7"; do
    query=${q%:*}
    want=${q##*:}
    got=$(count "$query")
    [ "$got" = "$want" ] && ok "selector $query -> $want items" || not_ok "selector $query -> $want items" "got $got: $(cat "$TMP/out")"
done
api GET "/api/v1/services?fieldSelector=spec.type%3DLoadBalancer" >/dev/null
[ "$(jpy "$TMP/out" '[i["metadata"]["name"] for i in d["items"]]')" = '["web"]' ] && ok "cluster-wide list with fieldSelector spec.type" || not_ok "fieldSelector spec.type" "$(cat "$TMP/out")"
expect_code "unsupported field selector: 400" 400 GET "$CM?fieldSelector=spec.nope%3Dx"
expect_code "deletecollection with a label selector" 200 DELETE "$CM?labelSelector=tier%3Dodd"
[ "$(count 'labelSelector=set%3Dpg')" = 4 ] && ok "... deletes only the selected objects" || not_ok "deletecollection" "$(cat "$TMP/out")"

code=$(curl -sS --max-time 10 --cacert "$TMP/ca.crt" -H "Authorization: Bearer $TOKEN" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json' -o "$TMP/out" -w '%{http_code}' "$SERVER$SVC")
[ "$code" = 200 ] && [ "$(jpy "$TMP/out" '[d["kind"], [c["name"] for c in d["columnDefinitions"]][:5]]')" = '["Table", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)"]]' ] &&
    ok "Table output for kubectl (Accept as=Table)" || not_ok "Table output" "$(cat "$TMP/out")"

# --- fault injection -----------------------------------------------------------------
api POST /sim/v1/faults '{"errorPercent":100,"errorCount":2,"errorCode":500}' >/dev/null
c1=$(api GET $SVC/web)
r1=$(jpy "$TMP/out" 'd.get("reason")')
c2=$(api GET $SVC/web)
c3=$(api GET $SVC/web)
[ "$c1 $r1 $c2 $c3" = "500 InternalError 500 200" ] && ok "fault injection: the next 2 requests get 500 InternalError" || not_ok "fault injection 500" "$c1 $r1 $c2 $c3"
api POST /sim/v1/faults '{"errorPercent":100,"errorCount":1,"errorCode":429,"retryAfterSeconds":2}' >/dev/null
c1=$(api GET $SVC/web)
got="$c1 $(jpy "$TMP/out" 'd["reason"]') $(grep -i '^retry-after:' "$TMP/hdr" | tr -d '\r' | awk '{print $2}')"
[ "$got" = "429 TooManyRequests 2" ] && ok "fault injection: 429 TooManyRequests with Retry-After" || not_ok "fault injection 429" "$got"
api POST /sim/v1/faults '{"reset":true,"latencyMs":300}' >/dev/null
t0=$(date +%s%N)
api GET $SVC/web >/dev/null
dt=$((($(date +%s%N) - t0) / 1000000))
[ $dt -ge 300 ] && ok "fault injection: added latency (${dt}ms)" || not_ok "fault injection latency" "${dt}ms"
api DELETE /sim/v1/faults >/dev/null
watch_bg "$TMP/w5" "$SVC?watch=1&timeoutSeconds=25"
W5=$WATCH_PID
wait_for 10 watch_count 1
t0=$SECONDS
api POST /sim/v1/faults '{"dropWatches":true}' >/dev/null
dropped=$(jpy "$TMP/out" 'd["droppedWatches"]')
wait "$W5" 2>/dev/null
[ $((SECONDS - t0)) -le 3 ] && [ "$dropped" -ge 1 ] && ok "fault injection: dropWatches ends open watches" || not_ok "dropWatches" "dropped=$dropped after $((SECONDS - t0))s"

# --- restart with --state --------------------------------------------------------------
api GET $SVC/web >/dev/null
WEB_UID=$(jpy "$TMP/out" 'd["metadata"]["uid"]')
WEB_IP=$(jpy "$TMP/out" 'd["spec"]["clusterIP"]')
api GET $CM >/dev/null
RV_BEFORE=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
OLD_TOKEN=$TOKEN
cp "$TMP/ca.crt" "$TMP/ca-old.crt"
if stop_sim TERM; then ok "SIGTERM: clean exit 0"; else not_ok "SIGTERM: clean exit 0" "exit status $?" "$(tail -5 "$TMP/sim.log")"; fi
start_sim "$PORT" "$STATE" || bail "kube-sim restarts with --state on the same port" "$(tail -5 "$TMP/sim.log")"
ok "kube-sim restarts with --state on port $PORT"
[ "$TOKEN" = "$OLD_TOKEN" ] && cmp -s "$TMP/ca.crt" "$TMP/ca-old.crt" && ok "token and CA are kept across the restart" || not_ok "token and CA are kept across the restart"
api GET $SVC/web >/dev/null
[ "$(jpy "$TMP/out" 'd["metadata"]["uid"]+" "+d["spec"]["clusterIP"]')" = "$WEB_UID $WEB_IP" ] && ok "objects survive the restart (same uid and clusterIP)" || not_ok "objects survive the restart" "$(cat "$TMP/out")"
api POST $CM '{"metadata":{"name":"after-restart"}}' >/dev/null
RV_AFTER=$(jpy "$TMP/out" 'd["metadata"]["resourceVersion"]')
[ "$RV_AFTER" -gt "$RV_BEFORE" ] && ok "resourceVersion keeps increasing after the restart ($RV_BEFORE -> $RV_AFTER)" || not_ok "resourceVersion keeps increasing" "$RV_BEFORE -> $RV_AFTER"
expect_code "a clusterIP allocated before the restart is not reused" 422 POST $SVC "{\"metadata\":{\"name\":\"dup-ip\"},\"spec\":{\"clusterIP\":\"$WEB_IP\",\"ports\":[{\"port\":80}]}}"
watch_bg "$TMP/w6" "$CM?watch=1&resourceVersion=$LRV"
wait "$WATCH_PID" 2>/dev/null
grep -q '"code":410' "$TMP/w6" && ok "a watch from before the restart gets 410 (fresh watch cache)" || not_ok "watch from before the restart gets 410" "$(cat "$TMP/w6")"
api POST $CM '{"metadata":{"name":"before-kill"}}' >/dev/null
sleep 0.5
stop_sim KILL
start_sim "$PORT" "$STATE" || bail "kube-sim restarts after SIGKILL" "$(tail -5 "$TMP/sim.log")"
expect_code "after SIGKILL, a change made 0.5 s before the kill is kept" 200 GET $CM/before-kill

# --- plain HTTP ---------------------------------------------------------------------
"$SIM" --listen 127.0.0.1:0 --kubeconfig-out "$TMP/plain.kubeconfig" --plain-http --token plain-token >>"$TMP/plain.log" 2>&1 &
PLAIN_PID=$!
wait_for 10 test -s "$TMP/plain.kubeconfig"
PSERVER=$(awk '/server:/ {print $2}' "$TMP/plain.kubeconfig")
code=$(curl -sS --max-time 10 -H "Authorization: Bearer plain-token" -o "$TMP/out" -w '%{http_code}' "$PSERVER/api/v1/namespaces/default")
[[ "$PSERVER" == http://127.0.0.1:* ]] && [ "$code" = 200 ] && ok "--plain-http serves plain HTTP with --token" || not_ok "--plain-http" "$PSERVER HTTP $code"

echo "1..$N"
[ $FAILED -eq 0 ] || echo "# $FAILED of $N checks failed"
[ $FAILED -eq 0 ]
