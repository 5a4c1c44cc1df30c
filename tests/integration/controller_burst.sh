#!/usr/bin/env bash
# controller_burst.sh - bursts of Services larger than the controller's
# bound on outstanding writes (64; the rest wait as keys or as the
# allocator's pending decisions) against kube-sim with kubectl:
#   - 150 Services that exist before the controller starts (start-up
#     burst: 150 decisions at once, so the bound is certainly reached and
#     the rest wait in the allocator until writes drain);
#   - 150 more created at once by parallel clients while it runs (they
#     wait as keys whenever creates outpace writes);
# each gets one address of its own in status, the
# ironlb.io/ip-allocated-from-pool annotation and one IPAllocated Event
# naming that address; a restart afterwards rewrites none of them.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP. Uses only 127.0.0.1. Waits are bounded (generous: the machine may
# be loaded); nothing is timed.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/controller_lib.inc

BURST=150
NS=burst

# Cluster IPs: IPv6 (a /108) so that 300 Services fit; Services then are
# IPv6 single-stack and take addresses from an IPv6 pool.
start_sim --service-cluster-ip-range 2001:db8:c1::/108
setup_cluster
k create namespace $NS >/dev/null
cat <<'YAML' | k apply -f - >/dev/null || bail "pool applies"
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: big, namespace: ironlb-system}
spec:
  addresses: ["2001:db8:100::/119"]
YAML
ok "kube-sim runs with CRDs and a pool of 512 addresses"

# wait_until DESC SECONDS CMD...: ok once CMD succeeds; a deadline in wall
# time (CMD itself takes a while here), polling every 0.5 s.
wait_until() {
    local desc=$1 end=$((SECONDS + $2)) out
    shift 2
    while :; do
        if out=$("$@" 2>&1); then ok "$desc"; return 0; fi
        [ $SECONDS -ge $end ] && break
        sleep 0.5
    done
    not_ok "$desc" "$out"
    return 1
}

# svcs PREFIX FROM TO: Service manifests PREFIX-FROM .. PREFIX-TO.
svcs() {
    local i
    for ((i = $2; i <= $3; i++)); do
        printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s-%d, namespace: %s}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n' \
            "$1" "$i" "$NS"
    done
}
# create_parallel PREFIX: BURST Services in 5 kubectl clients at once.
create_parallel() {
    local per=$((BURST / 5)) j pids=() rc=0
    for ((j = 0; j < 5; j++)); do
        svcs "$1" $((j * per + 1)) $(((j + 1) * per)) >"$TMP/$1-$j.yaml"
    done
    for ((j = 0; j < 5; j++)); do
        k create -f "$TMP/$1-$j.yaml" >/dev/null 2>>"$TMP/create.err" &
        pids+=($!)
    done
    for j in "${pids[@]}"; do wait "$j" || rc=1; done
    return $rc
}

# report PREFIX: how many PREFIX-* Services have an address, the
# annotation naming the pool, and exactly one IPAllocated Event naming
# the address in their status; every address used once. Prints
# "<n> <problems>".
report() {
    k get svc -n $NS -o json >"$TMP/svcs.json" 2>/dev/null || return 1
    k get events -n $NS -o json >"$TMP/events.json" 2>/dev/null || return 1
    "$PY" - "$1" "$TMP/svcs.json" "$TMP/events.json" <<'PY'
import json, sys, collections
prefix = sys.argv[1] + "-"
svcs = json.load(open(sys.argv[2]))["items"]
events = json.load(open(sys.argv[3]))["items"]
alloc = collections.defaultdict(list)
for e in events:
    if e.get("reason") == "IPAllocated" and e["involvedObject"]["kind"] == "Service":
        alloc[e["involvedObject"]["name"]].append((e.get("count", 1), e.get("message", "")))
ips = collections.Counter()
done, problems = 0, []
for s in svcs:
    ing = s.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    for i in ing:
        ips[i.get("ip")] += 1
    name = s["metadata"]["name"]
    if not name.startswith(prefix):
        continue
    ann = (s["metadata"].get("annotations") or {}).get("ironlb.io/ip-allocated-from-pool")
    ev = alloc.get(name, [])
    if len(ing) == 1 and ann == "big" and len(ev) == 1 and ev[0][0] == 1 \
            and ("[%s]" % ing[0]["ip"]) in ev[0][1]:
        done += 1
    elif len(ev) > 1 or (ev and ev[0][0] != 1):
        problems.append("%s: %d IPAllocated Events %s" % (name, len(ev), ev))
for ip, n in ips.items():
    if n > 1:
        problems.append("%s given to %d Services" % (ip, n))
print(done, "; ".join(problems[:5]))
PY
}
# all_done PREFIX: every one of the BURST Services is done, no problem.
all_done() {
    local out
    out=$(report "$1") || return 1
    echo "$out"
    [ "$out" = "$BURST " ]
}

svcs pre 1 $BURST >"$TMP/pre.yaml"
check "$BURST Services exist before the controller starts" k create -f "$TMP/pre.yaml"
start_ctl a --leader-elect=false
wait_for "controller becomes ready" 20 ready a
wait_until "start-up burst: all $BURST get an address, the annotation and one IPAllocated Event" 90 \
    all_done pre

if create_parallel live; then
    ok "$BURST more Services created at once by 5 parallel clients"
else
    not_ok "$BURST more Services created at once" "$(cat "$TMP/create.err")"
fi
wait_until "live burst: all $BURST get an address, the annotation and one IPAllocated Event" 90 \
    all_done live
check "no address given twice, and the first burst is still whole" all_done pre
check "controller logged $((2 * BURST)) assignments, one per Service" \
    test "$(grep -c 'msg="address assigned"' "$TMP/ctl-a.log")" -eq $((2 * BURST))

sleep 1
k get svc -n $NS -o jsonpath='{range .items[*]}{.metadata.name} {.status.loadBalancer.ingress[*].ip} {.metadata.resourceVersion}{"\n"}{end}' | sort >"$TMP/before"
stop_pid "$CTL_PID"
start_ctl a --leader-elect=false
wait_for "restarted controller becomes ready" 20 ready a
sleep 2
k get svc -n $NS -o jsonpath='{range .items[*]}{.metadata.name} {.status.loadBalancer.ingress[*].ip} {.metadata.resourceVersion}{"\n"}{end}' | sort >"$TMP/after"
check "after a restart none of the $((2 * BURST)) Services was rewritten" diff "$TMP/before" "$TMP/after"
if grep -q 'level=error' "$TMP"/ctl-a.log; then
    not_ok "controller logged no error" "$(grep 'level=error' "$TMP"/ctl-a.log)"
else ok "controller logged no error"; fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
