#!/bin/bash
# kube_client_events.sh - the Event recorder against kube-sim: the same
# event recorded 5 times becomes one core/v1 Event with count 5 (one POST,
# then PATCHes of count and lastTimestamp), with involvedObject, source,
# type, reason and message; different messages are different Events; the
# per-object rate limit (burst 25) drops the excess.
#
# Run from the repo root as root with IRONLB_BUILD=<repo>/build; prints
# TAP; exit 0 when every check passed. Uses only 127.0.0.1.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/kube_client_lib.sh
need_binaries

start_sim 0 || bail "kube-sim starts" "$(cat "$TMP/sim.log")"
ok "kube-sim starts on 127.0.0.1:$PORT"

kt event Service default web uid-web --type Warning --reason AllocationFailed \
	--message "no address available in pool default" --count 5 >"$TMP/e1.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^stats recorded=5 posted=1 .*aggregated=4 .*errors=0' "$TMP/e1.out"; then
	ok "5 identical events: one POST, the repeats aggregated ($(grep -o 'patched=[0-9]*' "$TMP/e1.out"))"
else
	not_ok "5 identical events are aggregated" "rc=$rc" "$(cat "$TMP/e1.out")"
fi
kt list events default >"$TMP/list.out"
if grep -q '^count=1$' "$TMP/list.out"; then
	ok "exactly one Event object exists"
else
	not_ok "exactly one Event object exists" "$(cat "$TMP/list.out")"
fi
name=$(awk '/^item/ {print $2}' "$TMP/list.out" | head -1 | cut -d/ -f2)
ev=$(kt get events default "$name" | tail -1)
expect() {
	if grep -qF -- "$2" <<<"$ev"; then ok "$1"; else not_ok "$1" "$ev"; fi
}
expect "its count is 5" '"count":5'
expect "it is named <object>.<suffix>" "\"name\":\"web."
expect "involvedObject names the Service and its uid" '"involvedObject":{"apiVersion":"v1","kind":"Service","name":"web","namespace":"default","uid":"uid-web"}'
expect "type, reason and message are kept" '"reason":"AllocationFailed"'
expect "type Warning" '"type":"Warning"'
expect "source component and host" '"source":{"component":"kubetool","host":"testhost"}'
first=$(grep -o '"firstTimestamp":"[^"]*"' <<<"$ev")
[ -n "$first" ] && expect "firstTimestamp and lastTimestamp are set" '"lastTimestamp":"'

kt event Service default web uid-web --reason Other --message "a" --count 1 >/dev/null
kt event Service default web uid-web --reason Other --message "b" --count 1 >/dev/null
n=$(kt list events default | sed -n 's/^count=//p')
[ "$n" = 3 ] && ok "different messages make different Events" || not_ok "different messages make different Events" "count=$n"

kt event Service default flood uid-flood --reason Flood --message same --count 30 >"$TMP/e2.out" 2>&1
if grep -q 'rate_limited=5 ' "$TMP/e2.out"; then
	ok "the per-object rate limit drops events past the burst of 25"
else
	not_ok "the per-object rate limit drops the excess" "$(cat "$TMP/e2.out")"
fi
fl=$(kt list events default | awk '/^item default\/flood\./ {print $2}' | cut -d/ -f2)
c=$(kt get events default "$fl" | tail -1 | grep -o '"count":[0-9]*')
[ "$c" = '"count":25' ] && ok "the Event counts the 25 events let through" || not_ok "the Event counts 25" "$c"

kt event Node "" node-1 uid-node --reason NodeEvent --message "cluster-scoped" >"$TMP/e3.out" 2>&1
if grep -q 'posted=1' "$TMP/e3.out" && kt list events default | grep -q '^item default/node-1\.'; then
	ok "events about cluster-scoped objects go to the default namespace"
else
	not_ok "events about cluster-scoped objects go to default" "$(cat "$TMP/e3.out")"
fi
finish
