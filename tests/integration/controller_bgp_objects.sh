#!/usr/bin/env bash
# controller_bgp_objects.sh - ironlb-controller reports BGPPeers,
# BGPAdvertisements and BFDProfiles against kube-sim with kubectl: values
# the CRD schema lets through but ironlb's rules reject (keepaliveTime above
# holdTime, a community out of range, a passwordSecret in another
# namespace) get Valid=False with reason InvalidSpec and a message naming
# the field, and a Warning Event InvalidConfiguration; valid objects get
# Valid=True; names of missing objects (bfdProfile, peers, ipAddressPools)
# get References=False (MissingReference) and turn True when the object
# appears; spec.vrf gets Supported=False; fixing an object turns it Valid;
# the VALID printer column; the invalid-objects metric; a restarted
# controller and a new leader rewrite nothing; a follower writes nothing;
# a server that drops the conditions (pruning schema) gets no write loop.
#
# Run from the repo root as root with IRONLB_BUILD=/work/main/build; prints
# TAP. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/controller_lib.inc

LEASE="--leader-elect-lease-duration=3s --leader-elect-renew-deadline=2s --leader-elect-retry-period=500ms"
NS=ironlb-system

start_sim
setup_cluster
cat <<'YAML' | k apply -f - >/dev/null || bail "pool applies"
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v4, namespace: ironlb-system}
spec:
  addresses: ["198.51.100.0/24"]
YAML
ok "kube-sim runs with CRDs and a pool"

# cond KIND NAME TYPE: "STATUS REASON MESSAGE" of the condition TYPE.
cond() {
    k get "$1" -n $NS "$2" -o jsonpath="{range .status.conditions[?(@.type==\"$3\")]}{.status} {.reason} {.message}{end}" 2>/dev/null
}
# cond_is KIND NAME TYPE REGEX
cond_is() { cond "$1" "$2" "$3" | grep -Eq -- "$4"; }
rvs() {
    local kind
    for kind in bgppeers bgpadvertisements bfdprofiles; do
        k get "$kind" -n $NS -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}'
    done | sort
}

# shellcheck disable=SC2086
start_ctl a $LEASE
PID_A=$CTL_PID
wait_for "controller (--leader-elect=true, one replica) becomes ready" 20 ready a
wait_for "... and leads" 10 grep -q 'became leader' "$TMP/ctl-a.log"

cat >"$TMP/objs.yaml" <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: ironlb-system}
spec: {receiveInterval: 100, transmitInterval: 100}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: good, namespace: ironlb-system}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.1, bfdProfile: fast}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: ka, namespace: ironlb-system}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.2, holdTime: 90s, keepaliveTime: 120s}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: secret, namespace: ironlb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 192.0.2.3
  passwordSecret: {name: bgp-pass, namespace: default}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: nobfd, namespace: ironlb-system}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.4, bfdProfile: slow}
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: vrf, namespace: ironlb-system}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.5, vrf: red}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: comm, namespace: ironlb-system}
spec: {communities: ["65000:100", "65536:1"]}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: refs, namespace: ironlb-system}
spec: {peers: [good, ghost], ipAddressPools: [v4, v6]}
---
apiVersion: ironlb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: fine, namespace: ironlb-system}
spec: {peers: [good], ipAddressPools: [v4], aggregationLength: 24}
YAML
check "BGP objects (valid, invalid, with missing references) apply" k apply -f "$TMP/objs.yaml"

wait_for "keepaliveTime above holdTime: Valid=False InvalidSpec naming the field" 10 \
    cond_is bgppeer ka Valid '^False InvalidSpec spec\.keepaliveTime: 120s is above holdTime 90s$'
wait_for "... and a Warning Event InvalidConfiguration on the BGPPeer" 5 \
    has_event $NS ka '^Warning InvalidConfiguration spec\.keepaliveTime'
check "... with observedGeneration and lastTransitionTime" "$PY" -c '
import json,subprocess
p=json.loads(subprocess.check_output(["kubectl","get","bgppeer","-n","ironlb-system","ka","-o","json"]))
c=[c for c in p["status"]["conditions"] if c["type"]=="Valid"][0]
assert c["observedGeneration"]==p["metadata"]["generation"], c
assert c["lastTransitionTime"].endswith("Z"), c
assert [c["type"] for c in p["status"]["conditions"]]==["Valid"], p["status"]
'
wait_for "community 65536:1: Valid=False naming spec.communities[1]" 10 \
    cond_is bgpadvertisement comm Valid '^False InvalidSpec spec\.communities\[1\]: "65536:1"'
wait_for "... and a Warning Event InvalidConfiguration on the BGPAdvertisement" 5 \
    has_event $NS comm '^Warning InvalidConfiguration spec\.communities\[1\]'
wait_for "passwordSecret in another namespace: Valid=False naming the field" 10 \
    cond_is bgppeer secret Valid '^False InvalidSpec spec\.passwordSecret\.namespace: "default" must be'
wait_for "a valid BGPPeer: Valid=True" 10 cond_is bgppeer good Valid '^True Valid $'
check "... References=True (its BFDProfile exists)" cond_is bgppeer good References '^True Resolved $'
check "... Supported=True" cond_is bgppeer good Supported '^True Supported $'
wait_for "a valid BFDProfile: Valid=True" 10 cond_is bfdprofile fast Valid '^True Valid $'
fine_ok() { cond_is bgpadvertisement fine Valid '^True Valid $' && cond_is bgpadvertisement fine References '^True Resolved $'; }
wait_for "a valid BGPAdvertisement: Valid=True, References=True" 10 fine_ok
nobfd_ok() {
    cond_is bgppeer nobfd Valid '^True' &&
        cond_is bgppeer nobfd References '^False MissingReference spec\.bfdProfile: BFDProfile "slow" not found$'
}
wait_for "bfdProfile naming no BFDProfile: Valid=True, References=False MissingReference" 10 nobfd_ok
wait_for "... and a Warning Event MissingReference" 5 has_event $NS nobfd '^Warning MissingReference spec\.bfdProfile'
wait_for "unknown peer and pool: References=False naming both" 10 \
    cond_is bgpadvertisement refs References '^False MissingReference spec\.peers\[1\]: BGPPeer "ghost" not found; spec\.ipAddressPools\[1\]: IPAddressPool "v6" not found$'
vrf_ok() { cond_is bgppeer vrf Valid '^True' && cond_is bgppeer vrf Supported '^False VRFNotSupported spec\.vrf'; }
wait_for "spec.vrf: Valid=True but Supported=False VRFNotSupported" 10 vrf_ok
wait_for "... and a Warning Event saying vrf is not supported" 5 has_event $NS vrf '^Warning Unsupported spec\.vrf: VRFs are not supported'
out=$(k get bgppeers -n $NS 2>&1)
if grep -Eq '^NAME .* VALID ' <<<"$out" && grep -Eq '^ka .* False ' <<<"$out" &&
    grep -Eq '^good .* True ' <<<"$out"; then
    ok "kubectl get bgppeers shows the VALID column"
else not_ok "kubectl get bgppeers shows the VALID column" "$out"; fi
out=$(k get bgpadvertisements,bfdprofiles -n $NS 2>&1)
if [ "$(grep -c ' VALID ' <<<"$out")" -eq 2 ] && grep -Eq '^bgpadvertisement.*/comm .* False ' <<<"$out" &&
    grep -Eq '^bfdprofile.*/fast .* True ' <<<"$out"; then
    ok "... and so do bgpadvertisements and bfdprofiles"
else not_ok "... and so do bgpadvertisements and bfdprofiles" "$out"; fi

M=$(curl -fsS --max-time 5 "$(ctl_url a /metrics)")
if grep -qx 'ironlb_controller_invalid_objects{kind="BGPPeer"} 2' <<<"$M" &&
    grep -qx 'ironlb_controller_invalid_objects{kind="BGPAdvertisement"} 1' <<<"$M" &&
    grep -qx 'ironlb_controller_invalid_objects{kind="BFDProfile"} 0' <<<"$M"; then
    ok "metric ironlb_controller_invalid_objects by kind"
else not_ok "metric ironlb_controller_invalid_objects by kind" "$(grep invalid_objects <<<"$M")"; fi

# --- fixing and resolving ---------------------------------------------------------
ltt_before=$(k get bgppeer -n $NS ka -o jsonpath='{.status.conditions[0].lastTransitionTime}')
sleep 1.1
check "keepaliveTime fixed" k patch bgppeer -n $NS ka --type=merge -p '{"spec":{"keepaliveTime":"30s"}}'
wait_for "... the BGPPeer turns Valid=True" 10 cond_is bgppeer ka Valid '^True Valid $'
check "... with the new observedGeneration and a new lastTransitionTime" "$PY" -c '
import json,subprocess,sys
p=json.loads(subprocess.check_output(["kubectl","get","bgppeer","-n","ironlb-system","ka","-o","json"]))
c=[c for c in p["status"]["conditions"] if c["type"]=="Valid"][0]
assert p["metadata"]["generation"]==2 and c["observedGeneration"]==2, (p["metadata"], c)
assert c["lastTransitionTime"]!=sys.argv[1], (c, sys.argv[1])
assert [c["type"] for c in p["status"]["conditions"]]==["Valid","References","Supported"], p["status"]
' "$ltt_before"
check "the missing BFDProfile is created" k apply -f - <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: BFDProfile
metadata: {name: slow, namespace: ironlb-system}
spec: {receiveInterval: 1000}
YAML
wait_for "... the BGPPeer naming it turns References=True" 10 cond_is bgppeer nobfd References '^True Resolved $'
check "the missing pool and peer are created" k apply -f - <<'YAML'
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: v6, namespace: ironlb-system}
spec:
  addresses: ["2001:db8:100::/120"]
---
apiVersion: ironlb.io/v1beta1
kind: BGPPeer
metadata: {name: ghost, namespace: ironlb-system}
spec: {myASN: 64500, peerASN: 64502, peerAddress: 192.0.2.9}
YAML
wait_for "... the BGPAdvertisement naming them turns References=True" 10 \
    cond_is bgpadvertisement refs References '^True Resolved $'
check "the peer it names is made invalid (holdTime 2s)" \
    k patch bgppeer -n $NS ghost --type=merge -p '{"spec":{"holdTime":"2s"}}'
wait_for "... the BGPAdvertisement says it names an invalid BGPPeer" 10 \
    cond_is bgpadvertisement refs References '^False MissingReference spec\.peers\[1\]: BGPPeer "ghost" is invalid'
wait_for "... and the peer says why" 10 \
    cond_is bgppeer ghost Valid '^False InvalidSpec spec\.holdTime: 2s: must be 0 or at least 3s$'
check "the peer is deleted" k delete bgppeer -n $NS ghost
wait_for "... the BGPAdvertisement says it is not found" 10 \
    cond_is bgpadvertisement refs References '^False MissingReference spec\.peers\[1\]: BGPPeer "ghost" not found$'

# --- nothing rewritten: restart, follower, new leader ---------------------------------
sleep 1
rvs >"$TMP/rv1"
stop_pid "$PID_A"
check "controller stops on SIGTERM (Lease released)" true
: >"$TMP/ctl-a.log"
# shellcheck disable=SC2086
start_ctl a $LEASE
PID_A=$CTL_PID
wait_for "restarted controller leads again" 20 grep -q 'became leader' "$TMP/ctl-a.log"
# shellcheck disable=SC2086
start_ctl b $LEASE
PID_B=$CTL_PID
wait_for "a second replica becomes ready (follower)" 20 ready b
sleep 2
rvs >"$TMP/rv2"
check "after the restart no BGP object was rewritten (resourceVersions unchanged)" diff "$TMP/rv1" "$TMP/rv2"
check "... and no Event or warning repeated (nothing new to report)" \
    sh -c "! grep -q 'invalid object\|refers to missing\|unsupported field' '$TMP/ctl-a.log'"

check "an object is made invalid while a leads and b follows" \
    k patch bgpadvertisement -n $NS fine --type=merge -p '{"spec":{"communities":["no-such-alias"]}}'
wait_for "... the leader reports it" 10 \
    cond_is bgpadvertisement fine Valid '^False InvalidSpec spec\.communities\[0\]: "no-such-alias"'
M=$(curl -fsS --max-time 5 "$(ctl_url b /metrics)")
if [ -n "$M" ] && ! grep -q 'verb="PATCH"' <<<"$M" && ! grep -q 'invalid object' "$TMP/ctl-b.log"; then
    ok "the follower sent no PATCH and logged no report"
else not_ok "the follower sent no PATCH and logged no report" "$(grep PATCH <<<"$M")"; fi
if [ -n "$M" ] && ! grep -q '^ironlb_controller_invalid_objects{' <<<"$M"; then
    ok "the follower exports no invalid-objects gauge (the leader does)"
else not_ok "the follower exports no invalid-objects gauge" "$(grep invalid_objects <<<"$M")"; fi

sleep 1
rvs >"$TMP/rv3"
stop_pid "$PID_A"
wait_for "after the leader stops, b leads" 15 grep -q 'became leader' "$TMP/ctl-b.log"
sleep 2
rvs >"$TMP/rv4"
check "the new leader rewrote nothing" diff "$TMP/rv3" "$TMP/rv4"
check "the object is fixed after the handover" \
    k patch bgpadvertisement -n $NS fine --type=merge -p '{"spec":{"communities":["large:1:2:3"]}}'
wait_for "... the new leader writes Valid=True" 10 cond_is bgpadvertisement fine Valid '^True Valid $'

# --- a server that does not keep the conditions: no write loop -------------------
patches() {
    curl -fsS --max-time 5 "$(ctl_url b /metrics)" |
        awk '/^ironlb_kube_requests_total\{verb="PATCH"/ {n += $2} END {print n + 0}'
}
"$PY" - <<'PY' >"$TMP/bfd-pruning.yaml"
s = open("deploy/crds/bfdprofiles.yaml").read()
i = s.index("            status:")
print(s[:i] + '            status:\n              type: "object"\n')
PY
check "the BFDProfile CRD is replaced by one whose schema prunes status.conditions" \
    k apply -f "$TMP/bfd-pruning.yaml"
p0=$(patches)
check "a BFDProfile changes" k patch bfdprofile -n $NS fast --type=merge -p '{"spec":{"echoInterval":100}}'
sleep 3
p1=$(patches)
check "... the leader writes its status once (no rewrite, no loop), although the object does not keep it" \
    test "$((p1 - p0))" -eq 1
check "controller b is still running" kill -0 "$PID_B"
if grep -q 'level=error' "$TMP"/ctl-*.log; then
    not_ok "no controller logged an error" "$(grep 'level=error' "$TMP"/ctl-*.log)"
else ok "no controller logged an error"; fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
